// FastCGI name-value pairs (PARAMS, GET_VALUES): nameLength, valueLength, name, value, where
// each length is 1 byte if it is <= 127, else 4 bytes big-endian with the top bit set.
// Names and values are decoded latin1 (one char per byte); the front-end decides what is UTF-8.
import { BadRequestError } from '../errors.js';

function bad(offset: number, problem: string): BadRequestError {
  return new BadRequestError(
    'FASTCGI_BAD_PARAMS',
    `malformed FastCGI name-value pairs at offset ${offset}: ${problem}`,
  );
}

export function decodePairs(block: Buffer): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  let at = 0;
  const readLength = (what: string): number => {
    const first = block[at];
    if (first === undefined) throw bad(at, `${what} length cut short by the block end`);
    if (first < 0x80) {
      at += 1;
      return first;
    }
    if (at + 4 > block.length) throw bad(at, `4-byte ${what} length cut short by the block end`);
    const length = block.readUInt32BE(at) & 0x7fffffff;
    at += 4;
    return length;
  };
  while (at < block.length) {
    const start = at;
    const nameLength = readLength('name');
    const valueLength = readLength('value');
    if (nameLength === 0) throw bad(start, 'an empty name');
    if (at + nameLength + valueLength > block.length) {
      throw bad(start, `a name of ${nameLength} and a value of ${valueLength} bytes past the block end`);
    }
    const name = block.toString('latin1', at, at + nameLength);
    at += nameLength;
    pairs.push([name, block.toString('latin1', at, at + valueLength)]);
    at += valueLength;
  }
  return pairs;
}

function lengthBytes(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((length | 0x80000000) >>> 0);
  return out;
}

export function encodePairs(pairs: Iterable<[string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of pairs) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    parts.push(lengthBytes(n.length), lengthBytes(v.length), n, v);
  }
  return Buffer.concat(parts);
}
