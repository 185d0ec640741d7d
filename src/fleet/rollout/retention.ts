// Which releases `keep_releases` removes: the oldest beyond the newest `keep`, but never the
// one `current` points at nor the previous good one (the rollback target).

export interface ReleaseDir {
  name: string;
  /** Seconds since the epoch (find -printf %T@). */
  mtime: number;
}

export function parseReleaseList(output: string): ReleaseDir[] {
  return output
    .split('\n')
    .map((line) => /^(\d+(?:\.\d+)?) (.+)$/.exec(line.trim()))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ mtime: Number(match[1]), name: match[2] ?? '' }))
    .filter((dir) => !dir.name.startsWith('.'));
}

export function releasesToRemove(
  releases: readonly ReleaseDir[],
  keep: number,
  current: string | undefined,
  previousGood: string | undefined,
): string[] {
  const newestFirst = [...releases].sort((a, b) => b.mtime - a.mtime || b.name.localeCompare(a.name));
  const kept = new Set(newestFirst.slice(0, keep).map((dir) => dir.name));
  if (current) kept.add(current);
  if (previousGood) kept.add(previousGood);
  return newestFirst.filter((dir) => !kept.has(dir.name)).map((dir) => dir.name);
}
