// Writes one value into one file format. init-options.ts already keeps values to an alphabet
// none of these formats treats specially, so for them this is the identity; it is the second
// line of defence for any template handed something else: it escapes what the format can
// escape and refuses what it cannot (a newline anywhere, `$` where the format expands it).
import { InfraError } from '../errors.js';

export type FileFormat = 'nginx' | 'apache' | 'ini' | 'systemd' | 'sh';

const plain = /^[A-Za-z0-9._@+/:=,-]+$/;

export function formatValue(value: string, format: FileFormat): string {
  if ([...value].some((c) => c < ' ' || c === '\x7f'))
    refuse(value, format, 'a control character (newline, tab, NUL...)');
  switch (format) {
    case 'sh':
      return plain.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
    case 'systemd':
      // Specifiers (%n) and, in Exec lines, variables ($X) expand unless doubled.
      return quoteIfSpaced(
        value
          .replaceAll('%', '%%')
          .replaceAll('$', () => '$$')
          .replaceAll('\\', '\\\\'),
      );
    case 'nginx':
      // nginx has no escape for `$` in a string: it always starts a variable.
      if (value.includes('$')) refuse(value, format, '"$"');
      return quoteIfSpaced(value.replaceAll('\\', '\\\\'));
    case 'apache':
      if (value.includes('${')) refuse(value, format, '"${"');
      return quoteIfSpaced(value.replaceAll('\\', '\\\\'));
    case 'ini':
      // pier's ini expands $(VAR) and ends a value at a comment character.
      if (/\$\(|[;#]/.test(value) || value.trim() !== value)
        refuse(value, format, '"$(", ";", "#" or edge spaces');
      return value;
  }
}

function quoteIfSpaced(value: string): string {
  return /[\s"';{}]/.test(value) || value === '' ? `"${value.replaceAll('"', '\\"')}"` : value;
}

function refuse(value: string, format: FileFormat, what: string): never {
  throw new InfraError(
    'INIT_VALUE',
    `${JSON.stringify(value)} cannot be written into a ${format} file: it holds ${what}`,
  );
}
