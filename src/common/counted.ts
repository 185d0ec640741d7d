// Counts in messages: "1 host", "2 hosts", "1 data center".

/** `n` and the noun, plural unless `n` is 1: counted(1, 'host') → "1 host". */
export function counted(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}
