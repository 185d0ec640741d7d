// The fleet lock: taken on every targeted host before anything changes, released at the end
// whatever happened. A lock names its owner, deploy and expiry; an expired one, or one left by
// the same deploy (--resume after the controller died), is taken over; any other refuses the
// deploy, saying who holds it. Releasing says per host whether a lock of the deploy remains, so
// a run never reports success while the next deploy would be refused. The commands and their
// outcome lines are in commands/lock.ts: nothing here reads a remote program's messages.

import { randomBytes } from 'node:crypto';
import { type Layout, layoutOf } from './commands/layout.js';
import {
  breakLock,
  type LockReport,
  parseLockReport,
  releaseLock,
  renewLock,
  takeLock,
} from './commands/lock.js';
import type { Script } from './commands/shell.js';
import { describeError, FleetError } from './errors.js';
import type { Host } from './inventory/inventory.js';
import { Limiter } from './limiter.js';
import type { Connection } from './ssh/connection.js';
import type { ConnectionPool } from './ssh/connection-pool.js';
import { HostError, RemoteCommandError } from './ssh/errors.js';

export interface LockInfo {
  owner: string;
  deploy: string;
  since: string;
  expires: string;
}

export function parseLockInfo(text: string): LockInfo | undefined {
  try {
    const value = JSON.parse(text.trim()) as Partial<LockInfo>;
    if (
      typeof value.owner === 'string' &&
      typeof value.deploy === 'string' &&
      typeof value.expires === 'string'
    ) {
      return {
        owner: value.owner,
        deploy: value.deploy,
        since: String(value.since ?? ''),
        expires: value.expires,
      };
    }
  } catch {}
  return undefined;
}

export function describeHolder(info: LockInfo | undefined): string {
  if (!info) return 'an unreadable lock (a lock taken by a controller that died while writing it?)';
  return `${info.owner} (deploy ${info.deploy}, since ${info.since}, expires ${info.expires})`;
}

export interface LockResult {
  locked: Host[];
  /** Hosts that could not be reached: they count as failed. */
  unreachable: Map<string, { error: string; code: string }>;
}

export async function lockFleet(
  pool: ConnectionPool,
  hosts: readonly Host[],
  info: LockInfo,
  now: () => Date = () => new Date(),
  onHost: (failed: boolean) => void = () => {},
): Promise<LockResult> {
  const line = JSON.stringify(info);
  const locked: Host[] = [];
  const unreachable = new Map<string, { error: string; code: string }>();
  const held: Array<{ host: Host; holder: LockInfo | undefined }> = [];
  const limiter = new Limiter(256);
  await Promise.all(
    hosts.map((host) =>
      limiter.run(async () => {
        const layout = layoutOf(host.deployTo);
        try {
          const connection = await pool.connection(host);
          let report = await take(connection, layout, info.deploy, line);
          if (report.state === 'held') {
            const holder = parseLockInfo(report.holder);
            // Ours (--resume after the controller died) or expired: take it over, unless it changed
            // since it was read. One line only: that is how pier writes it, and how it is matched.
            const stale =
              holder !== undefined &&
              !report.holder.includes('\n') &&
              (holder.deploy === info.deploy || Date.parse(holder.expires) < now().getTime());
            if (stale) report = await take(connection, layout, info.deploy, line, report.holder);
          }
          if (report.state === 'taken') locked.push(host);
          else held.push({ host, holder: parseLockInfo(report.holder) });
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          unreachable.set(host.name, {
            error: describeError(err),
            code: typeof code === 'string' ? code : 'FLEET_HOST',
          });
        } finally {
          pool.release(host);
          onHost(!locked.includes(host));
        }
      }),
    ),
  );
  if (held.length > 0) {
    const left = await unlockFleet(pool, locked, info.deploy);
    const first = held[0];
    const names = held.map((entry) => entry.host.name);
    const stuck = left.map((entry) => entry.host.name);
    throw new FleetError(
      'FLEET_LOCKED',
      `the fleet is locked by ${describeHolder(first?.holder)} on ${held.length} host(s): ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''}`,
      {
        hint:
          `wait for that deploy to finish; if it is dead, \`pier unlock\` removes the lock (it also expires at ${first?.holder?.expires ?? 'its TTL'})` +
          (stuck.length > 0
            ? `; this attempt's own lock remains on ${stuck.length} host(s): \`${unlockCommand(stuck)}\` removes it`
            : ''),
        exitCode: 3,
      },
    );
  }
  return { locked, unreachable };
}

/** One take on one host: `taken` or `held` by someone (with their info); anything else throws. */
async function take(
  connection: Connection,
  layout: Layout,
  deployId: string,
  line: string,
  stale?: string,
): Promise<LockReport> {
  const result = await connection.exec(takeLock(layout, deployId, line, nonce(), stale));
  if (result.code !== 0) {
    throw new RemoteCommandError('taking the lock', result.code, result.stderr || result.stdout);
  }
  const report = parseLockReport(result.stdout);
  if (report === undefined || report.state === 'none') {
    throw new HostError('FLEET_LOCK_OUTPUT', 'taking the lock printed no outcome', {
      hint: "the host's login shell must run the command it is given (see docs/fleet.md)",
    });
  }
  return report;
}

/** Names the temporary directories of one lock command, so concurrent ones never collide. */
const nonce = (): string => randomBytes(6).toString('hex');

/** The command that removes what `hosts` still hold, for messages. */
export function unlockCommand(hosts: readonly string[]): string {
  return `pier unlock --hosts ${hosts.join(',')}`;
}

/**
 * Keeps this deploy's locks alive while it runs: every third of the TTL the expiry moves a TTL
 * ahead, so a deploy that outlasts `lock_ttl` is not mistaken for a dead one and taken over.
 * A controller that dies stops renewing, and its locks expire as before. Returns `stop`.
 */
export function keepLocked(
  pool: ConnectionPool,
  hosts: () => readonly Host[],
  info: LockInfo,
  ttlMs: number,
  now: () => Date = () => new Date(),
): () => void {
  const limiter = new Limiter(256);
  const timer = setInterval(
    () => {
      const line = JSON.stringify({ ...info, expires: new Date(now().getTime() + ttlMs).toISOString() });
      for (const host of hosts()) {
        void limiter.run(async () => {
          const connection = await pool.connection(host).catch(() => undefined);
          await connection?.exec(renewLock(layoutOf(host.deployTo), info.deploy, line)).catch(() => {});
          pool.release(host);
        });
      }
    },
    Math.max(500, ttlMs / 3),
  );
  timer.unref();
  return () => clearInterval(timer);
}

/** A lock of this deploy that may still be on a host, and why it was not released. */
export interface LockLeft {
  host: Host;
  error: string;
}

/**
 * Releases this deploy's locks (never someone else's). Each host answers by exit code whether
 * no lock of this deploy is left there; returns the hosts where one may remain (release failed,
 * host unreachable), with the reason. Never throws.
 */
/** Connection attempts per host when releasing locks. */
const unlockAttempts = 3;

export async function unlockFleet(
  pool: ConnectionPool,
  hosts: readonly Host[],
  deployId: string,
  onHost: (failed: boolean) => void = () => {},
): Promise<LockLeft[]> {
  const left: LockLeft[] = [];
  const limiter = new Limiter(256);
  await Promise.all(
    hosts.map((host) =>
      limiter.run(async () => {
        try {
          // A lock left behind blocks every later deploy: a host that cannot be reached now
          // (a handshake that timed out on a busy controller) is tried again before giving up.
          for (let attempt = 1; ; attempt++) {
            try {
              const connection = await pool.connection(host);
              const result = await connection.exec(releaseLock(layoutOf(host.deployTo), deployId, nonce()));
              if (result.code !== 0) {
                throw new RemoteCommandError(
                  'releasing the lock',
                  result.code,
                  result.stderr || result.stdout,
                );
              }
              break;
            } catch (err) {
              const code = (err as { code?: unknown }).code;
              if (attempt >= unlockAttempts || (code !== 'FLEET_SSH_CONNECT' && code !== 'FLEET_SSH_JUMP')) {
                throw err;
              }
            }
          }
        } catch (err) {
          left.push({ host, error: describeError(err) });
        } finally {
          pool.release(host);
          onHost(left.some((entry) => entry.host === host));
        }
      }),
    ),
  );
  return left.sort((a, b) => a.host.name.localeCompare(b.host.name));
}

export interface BrokenLock {
  host: Host;
  holder: LockInfo | undefined;
  error?: string;
}

/**
 * `pier unlock`: removes whatever lock is there, reporting who held it; hosts without a lock are
 * left out. Once `signal` is aborted no new host is started (those in flight finish) and the
 * rest are reported as not attempted.
 */
export async function breakLocks(
  pool: ConnectionPool,
  hosts: readonly Host[],
  signal?: AbortSignal,
): Promise<BrokenLock[]> {
  const out: BrokenLock[] = [];
  const limiter = new Limiter(256);
  await Promise.all(
    hosts.map((host) =>
      limiter.run(async () => {
        if (signal?.aborted) {
          out.push({ host, holder: undefined, error: 'not attempted: interrupted' });
          return;
        }
        try {
          const connection = await pool.connection(host);
          const result = await connection.exec(breakLock(layoutOf(host.deployTo), nonce()));
          if (result.code !== 0) {
            throw new RemoteCommandError('removing the lock', result.code, result.stderr || result.stdout);
          }
          const report = parseLockReport(result.stdout);
          if (report?.state === 'held') out.push({ host, holder: parseLockInfo(report.holder) });
        } catch (err) {
          out.push({ host, holder: undefined, error: describeError(err) });
        } finally {
          pool.release(host);
        }
      }),
    ),
  );
  return out.sort((a, b) => a.host.name.localeCompare(b.host.name));
}

/**
 * The locks one deploy holds while it runs. A host that is done with this deploy (healthy, its
 * audit line written) releases its lock in that same last round trip, so a big fleet needs no
 * final pass reconnecting every host; the hosts still in flight, failed or never started keep
 * theirs until the end, so another deploy stays refused (it needs every lock) as long as this
 * one can still change anything. A host rolled back after its release takes the lock again.
 */
export class DeployLocks {
  private readonly holding: Set<Host>;
  private readonly line: string;

  constructor(
    private readonly info: LockInfo,
    locked: readonly Host[],
  ) {
    this.holding = new Set(locked);
    this.line = JSON.stringify(info);
  }

  /** Hosts whose lock this deploy still holds (for renewal and the final unlock). */
  held(): Host[] {
    return [...this.holding];
  }

  /** The command that frees this deploy's lock on the host (exit 0 when none of it is left). */
  releaseScript(host: Host): Script {
    return releaseLock(layoutOf(host.deployTo), this.info.deploy, nonce());
  }

  released(host: Host): void {
    this.holding.delete(host);
  }

  /** Takes a released host's lock again; FLEET_LOCKED when another deploy holds it now. */
  async retake(connection: Connection, host: Host): Promise<void> {
    if (this.holding.has(host)) return;
    const report = await take(connection, layoutOf(host.deployTo), this.info.deploy, this.line);
    if (report.state !== 'taken') {
      throw new HostError('FLEET_LOCKED', `locked by ${describeHolder(parseLockInfo(report.holder))}`);
    }
    this.holding.add(host);
  }
}
