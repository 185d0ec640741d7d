// Value parsers shared by CLI flags and config files.
import { InvalidArgumentError } from 'commander';

const units: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `1048576`, `512k`, `16m`, `1g` → bytes. */
export function parseByteSize(raw: string): number {
  const match = /^(\d+)\s*([kmg]?)b?$/i.exec(raw.trim());
  const unit = units[match?.[2]?.toLowerCase() ?? ''];
  if (!match || unit === undefined) {
    throw new InvalidArgumentError(`expected a size like 1048576, 512k or 16m, got "${raw}"`);
  }
  return Number(match[1]) * unit;
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500ms`, `30s`, `2m`, `1h`, or bare seconds → milliseconds (more than 0). */
export function parseDuration(raw: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
  const ms = match ? Math.round(Number(match[1]) * (durationUnits[match[2] ?? 's'] ?? 1000)) : 0;
  if (!match || ms <= 0)
    throw new InvalidArgumentError(`expected a duration like 30s, 2m or 500ms, got "${raw}"`);
  return ms;
}

/** `127.0.0.1:8470`, `[::1]:8470`, `0.0.0.0:80`, or a port alone (loopback) → host and port. */
export function parseListen(raw: string): { host: string; port: number } {
  const text = raw.trim();
  const match = /^(\d+)$/.test(text)
    ? ['', '127.0.0.1', text]
    : /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d+)$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || !(port <= 65535)) {
    throw new InvalidArgumentError(`expected HOST:PORT like 127.0.0.1:8470 or [::1]:8470, got "${raw}"`);
  }
  return { host: (match[1] as string).replace(/^\[|\]$/g, ''), port };
}
