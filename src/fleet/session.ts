// What every fleet command works with: the validated fleet, the SSH pool, the release store,
// who is acting, and where to print. The CLI builds it; the parts only read it.
import { randomBytes } from 'node:crypto';
import type { Fleet } from './inventory/inventory.js';
import type { ReleaseStore } from './release/store.js';
import type { ProgressSink } from './report/progress.js';
import type { ConnectionPool } from './ssh/connection-pool.js';

export interface FleetSession {
  repo: string;
  fleet: Fleet;
  /**
   * The inventory file, relative to the repository (`deploy/fleet.yml`, or absolute when
   * outside it): journaled with each run, so that runs of another file (`-c staging.yml`) are
   * never resumed or undone by this one.
   */
  fleetFile: string;
  pool: ConnectionPool;
  store: ReleaseStore;
  /** user@host of the controller, for locks and audit lines. */
  owner: string;
  out: ProgressSink;
  tty: boolean;
}

/** `20240105T070809Z-v2-3fa1`: sortable, says what it deployed, unique. */
export function newDeployId(version: string, now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${version}-${randomBytes(2).toString('hex')}`;
}
