// uWSGI's "magic variables" in ini values: `%` and one character, replaced by a fact about the
// config file or the host (uWSGI docs, Configuration, "Magic variables"; meanings as uWSGI's
// config_magic_table_fill gives them). So `socket = /run/%n.sock` in app.ini is /run/app.sock.
// Values are gathered by the loader (the I/O edge); this module only substitutes.
import path from 'node:path';

/** Facts about the host, gathered once by the caller. Each is read only when a value uses it. */
export interface HostFacts {
  hostname(): string;
  cpus(): number;
  uid(): number;
  user(): string;
  gid(): number;
  group(): string;
  /** The working directory pier was started in (`%v`). */
  cwd: string;
  /** Seconds since the epoch at start (`%t`; `%T` is microseconds). */
  startedMs: number;
  version(): string;
}

/** `%letter → value` for the ini file `file` (as given) read from section `section`. */
export function magicTable(file: string, section: string, host: HostFacts): Map<string, () => string> {
  const absolute = path.resolve(host.cwd, file);
  const base = path.basename(absolute);
  const dot = base.lastIndexOf('.');
  const dir = path.dirname(absolute);
  const table = new Map<string, () => string>([
    ['o', () => file],
    ['p', () => absolute],
    ['s', () => base],
    // With the trailing slash, as uWSGI: `%dapp.ts` is the app beside the ini file.
    ['d', () => (dir.endsWith('/') ? dir : `${dir}/`)],
    ['e', () => (dot > 0 ? base.slice(dot + 1) : '')],
    ['n', () => (dot > 0 ? base.slice(0, dot) : base)],
    ['c', () => path.basename(dir)],
    ['x', () => `${file}:${section}`],
    ['v', () => host.cwd],
    ['h', () => host.hostname()],
    ['k', () => String(host.cpus())],
    ['u', () => String(host.uid())],
    ['U', () => host.user()],
    ['g', () => String(host.gid())],
    ['G', () => host.group()],
    ['t', () => String(Math.floor(host.startedMs / 1000))],
    ['T', () => String(host.startedMs * 1000)],
    ['V', () => host.version()],
    ['[', () => '\x1b'],
    ['%', () => '%'],
  ]);
  // uWSGI's upper-case forms name the first non-template file; pier reads one file, so they
  // are the same as the lower-case ones.
  for (const letter of 'OPSDENCX') table.set(letter, table.get(letter.toLowerCase()) as () => string);
  // %0..%9: the components of the directory holding the file, from the root.
  dir
    .split('/')
    .filter(Boolean)
    .slice(0, 10)
    .forEach((component, index) => {
      table.set(String(index), () => component);
    });
  return table;
}

export class PlaceholderError extends Error {}

/** Characters after `%` that make a placeholder; a `%` before anything else stays as written. */
export const placeholderPattern = /%([A-Za-z0-9([%])/;

/**
 * The value of placeholder `%letter` from `table`. Throws PlaceholderError
 * (`unknown placeholder %y`) for a letter the table lacks.
 */
export function placeholder(letter: string, table: Map<string, () => string>): string {
  const found = table.get(letter);
  if (found) return found();
  if (letter === '(')
    throw new PlaceholderError(
      'uWSGI %(name) placeholders are not supported; use $(NAME) for an environment variable',
    );
  if (/\d/.test(letter))
    throw new PlaceholderError(
      `unknown placeholder %${letter}: the config file's directory has fewer components`,
    );
  throw new PlaceholderError(`unknown placeholder %${letter}`);
}
