// Parsers for option values. Each takes the raw string and returns the value or throws a
// ValueError whose message says what was expected; the loader adds where (file, line, key).

export class ValueError extends Error {}

export type Address =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string }
  | { kind: 'fd'; name: string };

export function parseAddress(raw: string): Address {
  const value = raw.trim();
  if (value.startsWith('fd:')) {
    const name = value.slice(3);
    if (!/^[A-Za-z0-9_.:-]+$/.test(name)) throw new ValueError(`expected fd:NAME or fd:NUMBER, got "${raw}"`);
    return { kind: 'fd', name };
  }
  if (value.startsWith('/') || value.startsWith('./') || value.startsWith('@'))
    return { kind: 'unix', path: value };
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (match && port > 65535)
    throw new ValueError(
      `port ${port} is out of range: a TCP port is 0 to 65535 (0: any free one), got "${raw}"`,
    );
  if (!match) {
    throw new ValueError(`expected host:port, :port, a unix socket path or fd:NAME, got "${raw}"`);
  }
  const host = match[1] ?? match[2] ?? '';
  return { kind: 'tcp', host: host === '' || host === '*' ? '0.0.0.0' : host, port };
}

export function formatAddress(address: Address): string {
  if (address.kind === 'unix') return address.path;
  if (address.kind === 'fd') return `fd:${address.name}`;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

export function parseInteger(min: number, max = Number.MAX_SAFE_INTEGER): (raw: string) => number {
  return (raw) => {
    const value = raw.trim();
    if (!/^-?\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      const range =
        max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
      throw new ValueError(`expected ${range}, got "${raw}"`);
    }
    return Number(value);
  };
}

/** Seconds, possibly fractional: `30`, `2.5`. */
export function parseSeconds(raw: string): number {
  const value = raw.trim();
  if (!/^\d+(\.\d+)?$/.test(value)) throw new ValueError(`expected seconds (e.g. 30 or 2.5), got "${raw}"`);
  return Number(value);
}

const units: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `1048576`, `512k`, `16m`, `1g` → bytes. */
export function parseSize(raw: string): number {
  const match = /^(\d+)\s*([kmgKMG]?)[bB]?$/.exec(raw.trim());
  const unit = units[match?.[2]?.toLowerCase() ?? ''];
  if (!match || unit === undefined)
    throw new ValueError(`expected a size like 65536, 64k or 16m, got "${raw}"`);
  return Number(match[1]) * unit;
}

export function parseBoolean(raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on', ''].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new ValueError(`expected true or false, got "${raw}"`);
}

export function parseOctalMode(raw: string): number {
  const value = raw.trim() || '666';
  if (!/^0?[0-7]{3}$/.test(value)) throw new ValueError(`expected an octal mode like 660, got "${raw}"`);
  return Number.parseInt(value, 8);
}

export function parseEnvPair(raw: string): [string, string] {
  const at = raw.indexOf('=');
  const name = raw.slice(0, at).trim();
  if (at <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new ValueError(`expected NAME=value, got "${raw}"`);
  }
  return [name, raw.slice(at + 1)];
}

export function parseChoice<T extends string>(choices: readonly T[]): (raw: string) => T {
  return (raw) => {
    const value = raw.trim() as T;
    if (!choices.includes(value)) throw new ValueError(`expected one of ${choices.join(', ')}, got "${raw}"`);
    return value;
  };
}

/** A user or group: a name or a numeric id. */
export function parseAccount(raw: string): string {
  const value = raw.trim();
  if (!/^(?:\d+|[a-z_][a-z0-9_-]*\$?)$/i.test(value))
    throw new ValueError(`expected a user/group name or id, got "${raw}"`);
  return value;
}

/** An address or CIDR block allowed to speak uwsgi to us: `127.0.0.1`, `10.0.0.0/8`, `::1`, `unix`. */
/**
 * 4 for an IPv4 address in dotted-quad form, 6 for an IPv6 address, else 0 (what node:net's
 * isIP answers, without loading node:net into the CGI entry, which bundles this module).
 */
function ipFamily(text: string): 0 | 4 | 6 {
  const quad = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (quad) return quad.slice(1).every((part) => Number(part) <= 255) ? 4 : 0;
  if (!text.includes(':')) return 0;
  try {
    new URL(`http://[${text}]/`);
    return 6;
  } catch {
    return 0;
  }
}

export function parseAllowFrom(raw: string): string {
  const value = raw.trim();
  if (value === 'unix') return value;
  const match = /^([0-9a-fA-F:.]+)(?:\/(\d{1,3}))?$/.exec(value);
  const family = match ? ipFamily(match[1] as string) : 0;
  // A prefix goes up to the address's own length: 32 bits for IPv4, 128 for IPv6.
  if (family !== 0 && (match?.[2] === undefined || Number(match[2]) <= (family === 4 ? 32 : 128)))
    return value;
  throw new ValueError(
    `expected an address, a CIDR block (10.0.0.0/8, a prefix up to /32, or /128 for IPv6) or "unix", got "${raw}"`,
  );
}
