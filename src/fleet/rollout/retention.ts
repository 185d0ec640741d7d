// Which releases `keep_releases` removes. Releases are ranked by use, not by arrival: staging
// runs ahead of activation over the whole fleet, so the newest directory on a host may be a
// release that never ran there (its deploy stopped at a failed canary), while the one before
// `current` is what `pier rollback` needs.
import { previousGood, type Revision } from './history.js';

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

export interface RetentionInput {
  /** The release directories on the host. */
  releases: readonly ReleaseDir[];
  /** The host's revisions.log, oldest first (or its tail). */
  revisions: readonly Revision[];
  /** keep_releases: how many releases stay, at least current and the previous good one. */
  keep: number;
  /** The release `current` points at. */
  current: string | undefined;
  /** The release `current` pointed at before this deploy. */
  previous: string | undefined;
  /**
   * Releases the running service still starts its workers from (a master that only reloaded
   * since it started from an older release: releasesInUse): kept whatever `keep` says.
   */
  inUse?: readonly string[];
}

/**
 * The release names to delete, the least useful first. Kept, in this order, until `keep` are:
 * `current`; the release `pier rollback` would return to (history.ts `previousGood`); the
 * release current before this deploy; then the others by their latest `result=healthy` line in
 * revisions.log, newest first. A release with no such line (staged and never activated, or
 * activated and failed) ranks last, newest directory first, which is also the whole order on a
 * host without a revisions.log.
 */
export function releasesToRemove(input: RetentionInput): string[] {
  const onDisk = input.releases.map((dir) => dir.name);
  const lastHealthy = new Map<string, number>();
  input.revisions.forEach((revision, at) => {
    if (revision.result === 'healthy') lastHealthy.set(revision.version, at);
  });
  const byUse = [...input.releases].sort(
    (a, b) =>
      (lastHealthy.get(b.name) ?? -1) - (lastHealthy.get(a.name) ?? -1) ||
      b.mtime - a.mtime ||
      b.name.localeCompare(a.name),
  );
  const pinned = [input.current, previousGood(input.revisions, input.current, onDisk), input.previous].filter(
    (name): name is string => name !== undefined && onDisk.includes(name),
  );
  const ranked = [...new Set([...pinned, ...byUse.map((dir) => dir.name)])];
  const kept = new Set([...pinned, ...ranked.slice(0, input.keep), ...(input.inUse ?? [])]);
  return ranked.filter((name) => !kept.has(name)).reverse();
}

/**
 * The releases under `releasesDir` that a service's status text names: pier serve's master says
 * which files its next workers start from (`workers start from <path> on <node>`, its STATUS= to
 * systemd, src/server/master/master.ts). A master that has only been reloaded since it started
 * from an older release still needs that release's Node and pier; removing it would leave the
 * next reload unable to start a worker.
 */
export function releasesInUse(statusText: string, releasesDir: string): string[] {
  const prefix = `${releasesDir.replace(/\/+$/, '')}/`;
  const names = new Set<string>();
  for (const word of statusText.split(/\s+/)) {
    if (!word.startsWith(prefix)) continue;
    const name = word.slice(prefix.length).split('/')[0];
    if (name) names.add(name);
  }
  return [...names];
}
