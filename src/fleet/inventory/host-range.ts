// Host ranges: `web[001:250].ams.example.net` → web001…web250. Numeric bounds keep the start's
// zero padding, `[a:f]` walks letters, `[1:9:2]` steps; several groups multiply. Pure, no I/O.

/** Upper bound on one pattern's expansion: a typo like [1:1000000] should fail, not eat memory. */
export const maxRangeHosts = 100_000;

export class HostRangeError extends Error {
  readonly code = 'FLEET_HOST_RANGE';
}

export function isRange(pattern: string): boolean {
  return pattern.includes('[');
}

export function expandHostRange(pattern: string): string[] {
  const match = /\[([^\]]*)\]/.exec(pattern);
  if (!match) {
    if (pattern.includes(']')) throw new HostRangeError(`"${pattern}": "]" without "["`);
    return [pattern];
  }
  const head = pattern.slice(0, match.index);
  if (head.includes(']')) throw new HostRangeError(`"${pattern}": "]" without "["`);
  const tail = pattern.slice(match.index + match[0].length);
  const values = expandGroup(pattern, match[1] ?? '');
  const rest = expandHostRange(tail);
  if (values.length * rest.length > maxRangeHosts) {
    throw new HostRangeError(`"${pattern}" expands to more than ${maxRangeHosts} hosts`);
  }
  return values.flatMap((value) => rest.map((suffix) => `${head}${value}${suffix}`));
}

function expandGroup(pattern: string, group: string): string[] {
  const parts = group.split(':');
  const [from = '', to = '', stepText = '1'] = parts;
  const step = Number(stepText);
  if (parts.length < 2 || parts.length > 3 || !/^[1-9]\d*$/.test(stepText)) {
    throw new HostRangeError(`"${pattern}": expected [start:end] or [start:end:step], got [${group}]`);
  }
  if (/^\d+$/.test(from) && /^\d+$/.test(to)) {
    const start = Number(from);
    const end = Number(to);
    if (start > end) throw new HostRangeError(`"${pattern}": range start ${from} is after its end ${to}`);
    if ((end - start) / step >= maxRangeHosts) {
      throw new HostRangeError(`"${pattern}" expands to more than ${maxRangeHosts} hosts`);
    }
    const width = from.startsWith('0') ? from.length : 0;
    const out: string[] = [];
    for (let n = start; n <= end; n += step) out.push(String(n).padStart(width, '0'));
    return out;
  }
  if (/^[a-z]$/.test(from) && /^[a-z]$/.test(to)) {
    const start = from.charCodeAt(0);
    const end = to.charCodeAt(0);
    if (start > end) throw new HostRangeError(`"${pattern}": range start ${from} is after its end ${to}`);
    const out: string[] = [];
    for (let c = start; c <= end; c += step) out.push(String.fromCharCode(c));
    return out;
  }
  throw new HostRangeError(
    `"${pattern}": range bounds must both be numbers or both be letters a-z, got [${group}]`,
  );
}
