// service.env resolved on the controller, once, before any host is contacted. A value is text
// from fleet.yml, where `${NAME}` stands for the controller's environment variable NAME (set and
// not empty), `${NAME:-text}` for NAME or, when it is unset or empty, the text, `${NAME-text}` for
// NAME or, only when it is unset, the text (the shell's forms, POSIX.1-2017 XCU 2.6.2), and `$$`
// for a literal `$`; or `{ file: PATH }`, the bytes of a file on the controller outside the
// repository (one final newline dropped). Values that come from the environment or a file are
// secrets: they travel to hosts only on stdin (commands/environment.ts), and what pier prints or
// records shows the reference (`${DB_PASSWORD}`, `<file ~/db.pass>`), never the value.
import path from 'node:path';
import type { EnvSource } from './inventory/schema.js';

/**
 * Whether a message of resolveEnv's is about a secret the controller has no value for (a variable
 * unset or empty, a file unreadable or empty), rather than about fleet.yml itself.
 */
export const isMissingSecret = (message: string): boolean =>
  / in the controller's environment| on the controller\b/.test(message);

export interface SecretSources {
  /** The controller's environment (the CLI passes process.env). */
  env: Readonly<Record<string, string | undefined>>;
  /** Reads a file; throws with a message when it cannot. */
  readFile: (file: string) => string;
  home: string;
  /** The repository: relative file paths start here, and a secret file must be outside it. */
  repo: string;
}

export interface EnvEntry {
  key: string;
  /** What may be printed: literal text, or the reference the value came from. */
  shown: string;
  secret: boolean;
}

export interface ReleaseEnv {
  entries: EnvEntry[];
  /** The values, once resolved (deploy); undefined when the command does not need them. */
  values: Record<string, string> | undefined;
}

export interface EnvIssue {
  key: string;
  message: string;
}

// `$NAME` without braces is matched too, to be refused: the shell and compose read it as NAME.
const reference = /\$(\$|\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g;
/** NAME, then an optional default: `:-text` (unset or empty) or `-text` (unset). */
const variableReference = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)(.*))?$/s;

/**
 * Resolves every value; `sources` undefined: only checks the references' syntax (values stay
 * undefined). Returns the problems instead of throwing, so the loader reports them with lines.
 */
export function resolveEnv(
  spec: Readonly<Record<string, EnvSource>>,
  sources: SecretSources | undefined,
): { env: ReleaseEnv; issues: EnvIssue[] } {
  const entries: EnvEntry[] = [];
  const values: Record<string, string> = {};
  const issues: EnvIssue[] = [];
  for (const [key, source] of Object.entries(spec)) {
    if (typeof source === 'object') {
      entries.push({ key, shown: `<file ${source.file}>`, secret: true });
      if (!sources) continue;
      const file = expand(source.file, sources);
      const inside = path.relative(sources.repo, file);
      if (!inside.startsWith('..') && !path.isAbsolute(inside)) {
        issues.push({
          key,
          message: `${source.file} is inside the repository: keep secret files outside it (it could be committed and shipped)`,
        });
        continue;
      }
      try {
        values[key] = sources.readFile(file).replace(/\n$/, '');
        if (values[key] === '') issues.push({ key, message: `${source.file} is empty on the controller` });
      } catch (err) {
        issues.push({
          key,
          message: `cannot read ${source.file} on the controller: ${(err as Error).message}`,
        });
      }
      continue;
    }
    let secret = false;
    const text = source.replace(reference, (whole, inner: string, body?: string, bare?: string) => {
      if (inner === '$') return '$';
      if (bare !== undefined) {
        issues.push({
          key,
          message: `${whole}: write \${${bare}} for the controller's variable ${bare}, or $${whole} for the text ${whole}`,
        });
        return whole;
      }
      secret = true;
      const [, name, operator, fallback] = variableReference.exec(body ?? '') ?? [];
      if (name === undefined) {
        issues.push({
          key,
          message: `${whole}: expected \${NAME}, \${NAME:-default} or \${NAME-default} with a variable name (use $$ for a literal $)`,
        });
        return '';
      }
      if (!sources) return '';
      const value = sources.env[name];
      if (operator === ':-') return value || (fallback ?? '');
      if (operator === '-') return value ?? fallback ?? '';
      if (value === undefined)
        issues.push({ key, message: `\${${name}} is not set in the controller's environment` });
      else if (value === '')
        issues.push({
          key,
          message: `\${${name}} is empty in the controller's environment (\${${name}:-} allows that)`,
        });
      return value ?? '';
    });
    entries.push({ key, shown: source, secret });
    values[key] = text;
  }
  return { env: { entries, values: sources ? values : undefined }, issues };
}

/** Replaces every secret value (of 4 bytes or more) in `text` with `***`. */
export function redactor(env: ReleaseEnv): (text: string) => string {
  const secrets = env.entries
    .filter((entry) => entry.secret)
    .map((entry) => env.values?.[entry.key] ?? '')
    .filter((value) => value.length >= 4)
    .sort((a, b) => b.length - a.length);
  if (secrets.length === 0) return (text) => text;
  return (text) => secrets.reduce((out, secret) => out.split(secret).join('***'), text);
}

function expand(file: string, sources: SecretSources): string {
  if (file === '~' || file.startsWith('~/')) return path.join(sources.home, file.slice(1));
  return path.resolve(sources.repo, file);
}
