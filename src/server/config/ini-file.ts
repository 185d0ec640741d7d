// Reads uWSGI-style ini files: `[section]` headers, `key = value` lines (a bare `key` means
// true), `;` and `#` comments, repeated keys kept in order, `$(NAME)` replaced from the
// environment. Every entry remembers its line so errors can say `file:line: key: ...`.

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

/** Entries per section, in file order. */
export function parseIni(
  text: string,
  file: string,
  env: Readonly<Record<string, string | undefined>>,
): Map<string, IniEntry[]> {
  const sections = new Map<string, IniEntry[]>();
  let current: IniEntry[] | undefined;
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
      return;
    }
    if (!current)
      throw new IniError(file, line, `"${text}" is outside any [section]; start the file with [pier]`);
    const at = text.indexOf('=');
    const key = (at < 0 ? text : text.slice(0, at)).trim();
    if (!/^[A-Za-z0-9_.-]+$/.test(key)) throw new IniError(file, line, `"${text}" is not a key = value line`);
    const value = at < 0 ? 'true' : expand(text.slice(at + 1).trim(), env, file, line, key);
    current.push({ key, value, line });
  });
  return sections;
}

function expand(
  value: string,
  env: Readonly<Record<string, string | undefined>>,
  file: string,
  line: number,
  key: string,
): string {
  return value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_, name: string) => {
    const found = env[name];
    if (found === undefined) {
      throw new IniError(file, line, `${key}: environment variable ${name} is not set (used as $(${name}))`);
    }
    return found;
  });
}
