// The fleet grid as data: per data center one cell per host, its version's colour class and its
// markers (drift, failed in its last run, locked, unreachable, moving in the running deploy), and
// the legend with counts. Pure: from the status snapshot, the inventory and the deploy history.
import type { Datacenter } from '../inventory/inventory.js';
import type { HostStatus } from '../status.js';
import type { DeployRun } from './deploy-files.js';
import { lastRunOf } from './deploy-view.js';
import type { StatusSnapshot } from './status-feed.js';

/** Colour classes k0..k7 (page.ts gives each a colour); the 9th version on gets a hatch too. */
export const paletteSize = 8;

export type Marker = 'drift' | 'failed' | 'locked' | 'unreachable' | 'moving';

export interface Cell {
  name: string;
  /** The version `current` points to; 'unreachable', '(none)' or '(not gathered yet)' otherwise. */
  label: string;
  /** CSS classes: `c`, the version's colour class, one letter per marker. */
  cls: string;
  /** What hover and screen readers say: name, version and every marker in words. */
  title: string;
}

export interface VersionKey {
  label: string;
  cls: string;
  count: number;
}

export interface FleetView {
  gatheredAt: string | undefined;
  tookMs: number | undefined;
  expected: string | undefined;
  versions: VersionKey[];
  markers: Record<Marker, number>;
  dcs: Array<{ name: string; cells: Cell[]; versions: VersionKey[]; markers: Record<Marker, number> }>;
}

const markerClass: Record<Marker, string> = {
  drift: 'd',
  failed: 'f',
  locked: 'l',
  unreachable: 'u',
  moving: 'm',
};
const movingStates = new Set(['staging', 'staged', 'activating', 'rolling-back']);

export function fleetView(
  snapshot: StatusSnapshot | undefined,
  selection: readonly Datacenter[],
  runs: readonly DeployRun[],
  live: DeployRun | undefined,
): FleetView {
  const byName = new Map<string, HostStatus>(snapshot?.status.hosts.map((h) => [h.name, h]) ?? []);
  const drift = new Set(snapshot?.status.drift ?? []);
  const lastRun = lastRunOf(runs);
  const liveState = new Map(live?.hosts.map((h) => [h.name, h.state]) ?? []);
  const labelOf = (status: HostStatus | undefined): string =>
    !status ? '(not gathered yet)' : status.error ? 'unreachable' : (status.current ?? '(none)');

  // Colours by how many hosts run a version, the expected one first: stable while a deploy moves.
  const counts = new Map<string, number>();
  for (const dc of selection)
    for (const host of dc.hosts) {
      const label = labelOf(byName.get(host.name));
      counts.set(label, (counts.get(label) ?? 0) + 1);
    }
  const special = new Set(['unreachable', '(none)', '(not gathered yet)']);
  const expected = snapshot?.status.expected;
  const ordered = [...counts.keys()]
    .filter((label) => !special.has(label))
    .sort(
      (a, b) =>
        Number(b === expected) - Number(a === expected) ||
        (counts.get(b) ?? 0) - (counts.get(a) ?? 0) ||
        a.localeCompare(b),
    );
  const classOf = new Map<string, string>(
    ordered.map((label, i) => [label, `k${i % paletteSize}${i >= paletteSize ? ' z' : ''}`]),
  );
  classOf.set('unreachable', 'u');
  classOf.set('(none)', 'n');
  classOf.set('(not gathered yet)', 'q');

  const keysOf = (tally: Map<string, number>): VersionKey[] =>
    [...ordered, ...special]
      .filter((label) => (tally.get(label) ?? 0) > 0)
      .map((label) => ({ label, cls: classOf.get(label) as string, count: tally.get(label) ?? 0 }));
  const noMarkers = (): Record<Marker, number> => ({
    drift: 0,
    failed: 0,
    locked: 0,
    unreachable: 0,
    moving: 0,
  });

  const total = noMarkers();
  const dcs = selection.map((dc) => {
    const markers = noMarkers();
    const tally = new Map<string, number>();
    const cells = dc.hosts.map((host): Cell => {
      const status = byName.get(host.name);
      const label = labelOf(status);
      tally.set(label, (tally.get(label) ?? 0) + 1);
      const last = lastRun.get(host.name);
      const on: Marker[] = [];
      if (drift.has(host.name)) on.push('drift');
      if (last?.host.state === 'failed') on.push('failed');
      if (status?.lock) on.push('locked');
      if (status?.error) on.push('unreachable');
      if (movingStates.has(liveState.get(host.name) ?? '')) on.push('moving');
      for (const marker of on) {
        markers[marker]++;
        total[marker]++;
      }
      const words = [
        drift.has(host.name) ? `drift (most run ${expected})` : '',
        on.includes('failed') ? `failed in ${last?.run.action} ${last?.run.id}` : '',
        on.includes('locked') ? `locked by ${status?.lock}` : '',
        on.includes('moving') ? `${live?.action} ${live?.version}: ${liveState.get(host.name)}` : '',
      ].filter(Boolean);
      return {
        name: host.name,
        label,
        cls: [
          'c',
          classOf.get(label),
          ...on.filter((m) => m !== 'unreachable').map((m) => markerClass[m]),
        ].join(' '),
        title: `${host.name}: ${label}${words.length > 0 ? `; ${words.join('; ')}` : ''}`,
      };
    });
    return { name: dc.name, cells, versions: keysOf(tally), markers };
  });
  return {
    gatheredAt: snapshot?.gatheredAt,
    tookMs: snapshot?.tookMs,
    expected,
    versions: keysOf(counts),
    markers: total,
    dcs,
  };
}
