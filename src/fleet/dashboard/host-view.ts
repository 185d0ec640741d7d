// One host's details for the dashboard: where it is, what it runs and ran, its last run from this
// controller's deploy history (with the failure message) and its last revisions.log lines.
import type { Host } from '../inventory/inventory.js';
import { previousGood, type Revision } from '../rollout/history.js';
import type { HostStatus } from '../status.js';
import type { DeployRun } from './deploy-files.js';

export interface HostDetail {
  name: string;
  dc: string;
  address: string;
  /** Undefined until the first status gathering. */
  gathered: boolean;
  current: string | undefined;
  /** The release `pier rollback` would return to (rollout/history.ts `previousGood`). */
  previous: string | undefined;
  releases: string[];
  lock: string | undefined;
  /** Why the host could not be probed. */
  unreachable: string | undefined;
  /** The newest run of this controller that included the host, and the host's state in it. */
  lastRun:
    | {
        id: string;
        action: string;
        version: string;
        outcome: string | undefined;
        state: string;
        error: string | undefined;
        code: string | undefined;
      }
    | undefined;
  /** The host's own record: its last lines of revisions.log, oldest first (at most 10). */
  revisions: Revision[];
}

export function hostDetail(
  host: Host,
  status: HostStatus | undefined,
  runs: readonly DeployRun[],
): HostDetail {
  let lastRun: HostDetail['lastRun'];
  for (const run of runs) {
    const entry = run.hosts.find((h) => h.name === host.name);
    if (!entry) continue;
    lastRun = {
      id: run.id,
      action: run.action,
      version: run.version,
      outcome: run.outcome,
      state: entry.state,
      error: entry.error,
      code: entry.code,
    };
    break;
  }
  const revisions = status?.revisions ?? [];
  return {
    name: host.name,
    dc: host.dc,
    address: host.port === 22 ? host.address : `${host.address}:${host.port}`,
    gathered: status !== undefined,
    current: status?.current,
    previous: status ? previousGood(revisions, status.current, status.releases) : undefined,
    releases: status?.releases ?? [],
    lock: status?.lock,
    unreachable: status?.error,
    lastRun,
    revisions: revisions.slice(-10),
  };
}
