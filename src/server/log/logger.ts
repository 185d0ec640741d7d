// Structured event lines for the master and workers: `event key=value ...` as text, or one JSON
// object per line; the same field names either way.

/** Field values; an object (stats) is nested as JSON in JSON lines, and written as compact JSON on text lines. */
export type Fields = Record<string, string | number | boolean | object | undefined>;

export interface Logger {
  event(name: string, fields?: Fields): void;
  /** A problem worth a human's attention; `message` is one line. */
  warn(message: string, fields?: Fields): void;
}

/**
 * A value as it goes on a text line: bare, or in double quotes with `"` escaped, line breaks
 * written `\n`, `\r` and other control characters `\u001b` (a value may quote hostile input:
 * no terminal escape reaches whoever reads the log). Backslashes stay as they are: a message
 * describeError (errors.ts) already made one line shows its `\n` once, not as `\\n`.
 */
function textValue(value: string | number | boolean | object): string {
  if (typeof value === 'object') return JSON.stringify(value);
  const text = String(value);
  if (/^[^\s"=]+$/.test(text)) return text;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it escapes
  return `"${text.replace(/["\x00-\x1f\x7f]/g, escapeChar)}"`;
}

function escapeChar(c: string): string {
  if (c === '"') return '\\"';
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

export function createLogger(source: string, json: boolean, write: (line: string) => void): Logger {
  const emit = (level: string, event: string, fields: Fields): void => {
    const time = new Date().toISOString();
    if (json) {
      write(`${JSON.stringify({ time, level, source, event, ...fields })}\n`);
      return;
    }
    let line = `${time} pier[${source}] ${level === 'warn' ? 'WARN ' : ''}${event}`;
    for (const [key, value] of Object.entries(fields))
      if (value !== undefined) line += ` ${key}=${textValue(value)}`;
    write(`${line}\n`);
  };
  return {
    event: (name, fields = {}) => emit('info', name, fields),
    warn: (message, fields = {}) => emit('warn', message, fields),
  };
}
