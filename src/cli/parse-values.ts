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
