// `pier status`: what each host runs (where `current` points), the releases on disk, the last
// deploy and the lock; a per-DC summary; drift = hosts not on the version most of the fleet runs.

import { counted } from '../common/counted.js';
import { versionOfLink } from './commands/activate.js';
import { layoutOf } from './commands/layout.js';
import type { ServiceSpec } from './commands/service.js';
import { parseStatus, probeStatus } from './commands/status.js';
import { describeError } from './errors.js';
import type { Datacenter, Host } from './inventory/inventory.js';
import { Limiter } from './limiter.js';
import { describeHolder, parseLockInfo } from './lock.js';
import { table, triedAddress } from './report/summary.js';
import { parseRevisions, type Revision } from './rollout/history.js';
import type { ConnectionPool } from './ssh/connection-pool.js';

export interface HostStatus {
  name: string;
  dc: string;
  current: string | undefined;
  releases: string[];
  last: Revision | undefined;
  revisions: Revision[];
  lock: string | undefined;
  error: string | undefined;
  /** `address:port` pier tried, for a host it could not connect to (its name is not that address). */
  tried?: string | undefined;
  /**
   * Whether the app serves: `running`, `not running` (manager none: the pidfile's process is
   * gone, or was never started), or the systemd unit's state (`failed`, `inactive`…).
   */
  service?: string | undefined;
}

export interface FleetStatus {
  hosts: HostStatus[];
  /** The version most reachable hosts run. */
  expected: string | undefined;
  drift: string[];
}

/** One host's status; with `service`, also whether its app runs (HostStatus.service). */
export async function probeHost(
  pool: ConnectionPool,
  host: Host,
  service?: ServiceSpec,
): Promise<HostStatus> {
  try {
    const connection = await pool.connection(host);
    const probe = parseStatus(
      await connection.check('probing', probeStatus(layoutOf(host.deployTo), service)),
    );
    const revisions = parseRevisions(probe.revisions);
    pool.release(host);
    return {
      name: host.name,
      dc: host.dc,
      current: versionOfLink(probe.currentLink),
      releases: probe.releases,
      last: revisions.at(-1),
      revisions,
      lock: probe.lockInfo ? describeHolder(parseLockInfo(probe.lockInfo)) : undefined,
      error: undefined,
      // Nothing to run before the first release.
      service: probe.currentLink === '' || probe.service === '' ? undefined : probe.service,
    };
  } catch (err) {
    pool.release(host);
    return {
      name: host.name,
      dc: host.dc,
      current: undefined,
      releases: [],
      last: undefined,
      revisions: [],
      lock: undefined,
      error: describeError(err),
      tried: triedAddress(host, (err as { code?: string }).code),
    };
  } finally {
    pool.release(host);
  }
}

export async function fleetStatus(
  pool: ConnectionPool,
  selection: readonly Datacenter[],
  service: ServiceSpec,
): Promise<FleetStatus> {
  const limiter = new Limiter(256);
  const hosts = await Promise.all(
    selection.flatMap((dc) => dc.hosts).map((host) => limiter.run(() => probeHost(pool, host, service))),
  );
  const votes = new Map<string, number>();
  for (const host of hosts) if (host.current) votes.set(host.current, (votes.get(host.current) ?? 0) + 1);
  const expected = [...votes].sort((a, b) => b[1] - a[1])[0]?.[0];
  const drift = hosts
    .filter((host) => host.error === undefined && host.current !== expected)
    .map((host) => host.name);
  return { hosts, expected, drift };
}

export function renderStatus(status: FleetStatus, detail: boolean): string {
  const lines: string[] = [];
  if (detail) {
    const rows = status.hosts.map((h) => [
      h.name,
      h.dc,
      h.error ? 'unreachable' : shownCurrent(h),
      h.last ? `${lastRun(h.last)} ${h.last.at}` : '-',
      h.error ? `${h.error}${h.tried ? ` at ${h.tried}` : ''}` : h.lock ? `locked by ${h.lock}` : '',
    ]);
    lines.push(table([['host', 'dc', 'current', 'last deploy', 'note'], ...rows]), '');
  }
  const dcs = [...new Set(status.hosts.map((h) => h.dc))];
  const rows = dcs.map((dc) => {
    const here = status.hosts.filter((h) => h.dc === dc);
    const versions = new Map<string, number>();
    for (const h of here) {
      const key = h.error ? 'unreachable' : shownCurrent(h);
      versions.set(key, (versions.get(key) ?? 0) + 1);
    }
    return [dc, String(here.length), [...versions].map(([v, n]) => `${v}: ${n}`).join(', ')];
  });
  lines.push(table([['dc', 'hosts', 'versions'], ...rows]));
  // Without the table's note column, the causes go under it: one line per cause, its hosts.
  const causes = new Map<string, string[]>();
  for (const h of status.hosts) {
    const shown = h.tried ? `${h.name} (${h.tried})` : h.name;
    if (h.error) causes.set(h.error, [...(causes.get(h.error) ?? []), shown]);
  }
  if (!detail && causes.size > 0) {
    lines.push('', 'unreachable:');
    for (const [cause, names] of causes) {
      const more = names.length > 10 ? `, … (${names.length - 10} more)` : '';
      lines.push(
        `  ${counted(names.length, 'host')}: ${cause}`,
        `    ${names.slice(0, 10).join(', ')}${more}`,
      );
    }
  }
  lines.push('', driftLine(status));
  return `${lines.join('\n')}\n`;
}

/** The release a host runs, and what is wrong with its app when it does not serve: `v4 (not running)`. */
function shownCurrent(host: HostStatus): string {
  const current = host.current ?? '(none)';
  return appDown(host) ? `${current} (${host.service})` : current;
}

/** Whether a host answered that its app does not run (HostStatus.service). */
const appDown = (host: HostStatus): boolean => host.service !== undefined && host.service !== 'running';

/**
 * A revisions.log line in words. A host a failed deploy returned to its release is logged with
 * that release as `version` and the failed one as `previous`: "deploy v4 rolled back to v3".
 */
function lastRun(last: Revision): string {
  if (last.result === 'rolled-back' && last.previous)
    return `${last.action} ${last.previous} rolled back to ${last.version}`;
  return `${last.action} ${last.version} ${last.result}`;
}

function driftLine(status: FleetStatus): string {
  const down = status.hosts.filter((host) => host.error === undefined && appDown(host));
  const stopped =
    down.length > 0
      ? `; the app does not run on ${counted(down.length, 'host')}: ${down
          .slice(0, 10)
          .map((host) => host.name)
          .join(', ')}`
      : '';
  return `${drift(status)}${stopped}`;
}

function drift(status: FleetStatus): string {
  if (status.drift.length > 0)
    return `drift: ${counted(status.drift.length, 'host')} not on ${status.expected}: ${status.drift.slice(0, 10).join(', ')}`;
  if (status.expected !== undefined) return `no drift: every reachable host runs ${status.expected}`;
  if (status.hosts.every((host) => host.error !== undefined)) return 'no host answered: nothing to compare';
  return 'no drift: no reachable host has a release yet';
}
