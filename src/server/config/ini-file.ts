// Reads uWSGI-style ini files: `[section]` headers, `key = value` lines (a bare `key` means
// true), `;` and `#` comments, repeated keys kept in order, `$(NAME)` replaced from the
// environment and uWSGI's `%n`-style magic variables from a table (magic-variables.ts), in one
// pass so a replacement is never expanded again. Every entry remembers its line so errors can
// say `file:line: key: ...`.
import { PlaceholderError, placeholder, placeholderPattern } from './magic-variables.js';

export interface IniEntry {
  key: string;
  value: string;
  line: number;
}

export class IniError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
  }
}

/** `%letter → value` for a section; see magic-variables.ts. */
export type MagicTables = (section: string) => Map<string, () => string>;

/** Entries per section, in file order. */
export function parseIni(
  text: string,
  file: string,
  env: Readonly<Record<string, string | undefined>>,
  magic: MagicTables = () => new Map(),
): Map<string, IniEntry[]> {
  const sections = new Map<string, IniEntry[]>();
  let current: IniEntry[] | undefined;
  let table = new Map<string, () => string>();
  const lines = text.split(/\r?\n/);
  lines.forEach((rawLine, index) => {
    const line = index + 1;
    const text = rawLine.trim();
    if (text === '' || text.startsWith(';') || text.startsWith('#')) return;
    const header = /^\[([^\]]+)\]$/.exec(text);
    if (header) {
      const name = (header[1] ?? '').trim();
      current = sections.get(name) ?? [];
      sections.set(name, current);
      table = magic(name);
      return;
    }
    if (!current)
      throw new IniError(file, line, `"${text}" is outside any [section]; start the file with [pier]`);
    const at = text.indexOf('=');
    const key = (at < 0 ? text : text.slice(0, at)).trim();
    if (!/^[A-Za-z0-9_.-]+$/.test(key)) throw new IniError(file, line, `"${text}" is not a key = value line`);
    const value = at < 0 ? 'true' : expand(text.slice(at + 1).trim(), env, table, { file, line, key });
    current.push({ key, value, line });
  });
  return sections;
}

const placeholders = new RegExp(`\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)|${placeholderPattern.source}`, 'g');

function expand(
  value: string,
  env: Readonly<Record<string, string | undefined>>,
  table: Map<string, () => string>,
  where: { file: string; line: number; key: string },
): string {
  return value.replace(placeholders, (_, name: string | undefined, letter: string | undefined) => {
    if (letter !== undefined) {
      try {
        return placeholder(letter, table);
      } catch (err) {
        if (err instanceof PlaceholderError)
          throw new IniError(where.file, where.line, `${where.key}: ${err.message}`);
        throw err;
      }
    }
    const found = env[name ?? ''];
    if (found === undefined) {
      throw new IniError(
        where.file,
        where.line,
        `${where.key}: environment variable ${name} is not set (used as $(${name}))`,
      );
    }
    return found;
  });
}
