// The CLI's one top-level error printer: `error[CODE]: message`, a hint when there is one, and
// the stack only with --verbose.
import { codeOf, hintOf } from '../common/coded-error.js';

export function reportError(err: unknown, verbose: boolean): number {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`error[${codeOf(err, 'INTERNAL')}]: ${message}\n`);
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : undefined;
  if (cause) process.stderr.write(`  caused by: ${cause.message}\n`);
  const hint = hintOf(err);
  if (hint !== undefined) process.stderr.write(`  hint: ${hint}\n`);
  if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  const exitCode = (err as { exitCode?: unknown }).exitCode;
  return typeof exitCode === 'number' ? exitCode : 1;
}
