// The base of every error pier reports to a user: a stable `code` to branch on, a `hint`
// saying what to do, and the exit code the CLI ends with. Each part derives its own class.

export interface CodedErrorOptions {
  hint?: string | undefined;
  exitCode?: number;
  cause?: unknown;
}

export class CodedError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: number;
  constructor(code: string, message: string, options: CodedErrorOptions = {}, defaultExitCode = 1) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? defaultExitCode;
  }
}

/**
 * The `code` of anything thrown (a CodedError, a Node system error such as ENOENT, or an
 * error from a library), or `fallback` when it has no string code.
 */
export function codeOf(err: unknown, fallback: string): string {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : fallback;
}

/** The `hint` of anything thrown, when it carries one as a string; else undefined. */
export function hintOf(err: unknown): string | undefined {
  const hint = (err as { hint?: unknown } | null | undefined)?.hint;
  return typeof hint === 'string' ? hint : undefined;
}
