// Replays a protocol fixture through a parser whole, byte by byte and in seeded random chunks,
// so a parser that depends on how bytes arrive shows up as a difference between the replays.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomChunks } from './rng.js';

export const randomSeeds = [1, 2, 3, 4, 5, 6, 7, 8];

export interface Replay {
  name: string;
  chunks: Buffer[];
}

export function replays(bytes: Buffer): Replay[] {
  const out: Replay[] = [
    { name: 'whole', chunks: [bytes] },
    { name: 'byte by byte', chunks: [...bytes].map((byte) => Buffer.from([byte])) },
  ];
  for (const seed of randomSeeds)
    out.push({ name: `random chunks, seed ${seed}`, chunks: randomChunks(bytes, seed) });
  return out;
}

/** The default exports of the compiled fixture modules in `dir`, with their file names. */
export async function loadFixtures<T>(dir: string): Promise<Array<[string, T]>> {
  const files = readdirSync(dir)
    .filter((file) => file.endsWith('.js'))
    .sort();
  const out: Array<[string, T]> = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(path.join(dir, file)).href)) as { default: T };
    out.push([file.replace(/\.js$/, ''), module.default]);
  }
  return out;
}
