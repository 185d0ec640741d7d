// A small seeded random number generator (mulberry32), so a failing random replay can be
// reproduced from the seed in its test name.
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cuts `bytes` into chunks of random sizes between 1 and `max`. */
export function randomChunks(bytes: Buffer, seed: number, max = 64): Buffer[] {
  const random = seededRandom(seed);
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const size = 1 + Math.floor(random() * max);
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}
