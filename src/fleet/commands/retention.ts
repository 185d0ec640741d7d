// Reading what retention needs and removing old releases; which ones go is decided by
// rollout/retention.ts.
import type { Layout } from './layout.js';
import { serviceStatus } from './service.js';
import { all, each, optional, program, type Script } from './shell.js';
import { sectionMarker } from './status.js';

/**
 * Lines of revisions.log read for retention: a release last used further back ranks as never
 * used. 200 deploys back is far beyond any keep_releases, and bounds what 5,000 hosts send back.
 */
export const revisionsRead = 200;

/**
 * One round trip: a `<mtime> <name>` line per release directory, a marker line, then the tail of
 * revisions.log (either part empty when absent). With `unit` (service manager systemd), another
 * marker line and the unit's status text (`systemctl show`, no privilege needed), which names
 * the release a running pier serve starts its workers from (rollout/retention.ts releasesInUse).
 */
export function probeReleases(layout: Layout, unit?: string): Script {
  return each(
    optional([
      ...['find', layout.releases, '-mindepth', '1', '-maxdepth', '1', '-type', 'd'],
      ...['-printf', '%T@ %f\\n'],
    ]),
    ['echo', sectionMarker],
    optional(['tail', '-n', String(revisionsRead), layout.revisions]),
    ...(unit === undefined ? [] : [['echo', sectionMarker], optional(serviceStatus(unit))]),
  );
}

/**
 * Exits 0 when the host holds no more than `keep` release directories, so retention has nothing
 * to remove and needs no listing: the usual case for a host's first deploys. Builtins only.
 */
export function withinKeep(layout: Layout, keep: number): Script {
  return program(withinKeepProgram, [layout.releases, String(keep)]);
}

const withinKeepProgram = 'n=0; for d in "$1"/*/; do [ -d "$d" ] && n=$((n + 1)); done; [ "$n" -le "$2" ]';

/** The probe's output → its parts: the release list, the revisions.log lines, the unit's status. */
export function splitReleaseProbe(output: string): { list: string; revisions: string[]; status: string } {
  const [list = '', revisions = '', status = ''] = output.split(`${sectionMarker}\n`);
  return {
    list,
    revisions: revisions.split('\n').filter((line) => line.trim() !== ''),
    status: status.trim(),
  };
}

export function removeReleases(layout: Layout, versions: readonly string[]): Script {
  return all(['rm', '-rf', ...versions.map((version) => layout.release(version))]);
}
