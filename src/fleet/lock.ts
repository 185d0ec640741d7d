// The fleet lock: taken on every targeted host before anything changes, released at the end
// whatever happened. A lock names its owner, deploy and expiry; an expired one, or one left by
// the same deploy (--resume after the controller died), is taken over; any other refuses the
// deploy, saying who holds it. Releasing says per host whether a lock of the deploy remains, so
// a run never reports success while the next deploy would be refused. The commands and their
// outcome lines are in commands/lock.ts: nothing here reads a remote program's messages.

import { randomBytes } from 'node:crypto';
import { printable } from '../common/printable.js';
import { type Layout, layoutOf } from './commands/layout.js';
import {
  breakLock,
  fleetLockPlace,
  type LockPlace,
  type LockReport,
  lockOwnerFile,
  parseLockReport,
  releaseLock,
  renewLock,
  takeLock,
} from './commands/lock.js';
import type { Script } from './commands/shell.js';
import { describeError, FleetError } from './errors.js';
import type { Fleet, Host } from './inventory/inventory.js';
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
  // A lock file is a host's text: written by some controller, readable and writable on the host.
  return printable(`${info.owner} (deploy ${info.deploy}, since ${info.since}, expires ${info.expires})`);
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
        try {
          const connection = await pool.connection(host);
          const report = await acquire(connection, layoutOf(host.deployTo), info, line, now);
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

/**
 * Takes the lock at `place`, taking over one that is this deploy's (--resume after the
 * controller died) or expired, unless it changed since it was read. `taken` or `held` (with
 * the holder); a failure to act throws.
 */
async function acquire(
  connection: Connection,
  place: LockPlace,
  info: LockInfo,
  line: string,
  now: () => Date,
): Promise<LockReport> {
  return overtake(connection, place, info, line, await take(connection, place, info.deploy, line), now);
}

/** After a take found a lock: take it over when it is ours or expired (see acquire). */
async function overtake(
  connection: Connection,
  place: LockPlace,
  info: LockInfo,
  line: string,
  report: LockReport,
  now: () => Date,
): Promise<LockReport> {
  if (report.state !== 'held') return report;
  const holder = parseLockInfo(report.holder);
  // One line only: that is how pier writes it, and how it is matched.
  const stale =
    holder !== undefined &&
    !report.holder.includes('\n') &&
    (holder.deploy === info.deploy || Date.parse(holder.expires) < now().getTime());
  return stale ? take(connection, place, info.deploy, line, report.holder) : report;
}

/** One take on one host: `taken` or `held` by someone (with their info); anything else throws. */
async function take(
  connection: Connection,
  place: LockPlace,
  deployId: string,
  line: string,
  stale?: string,
): Promise<LockReport> {
  const result = await connection.exec(takeLock(place, deployId, line, nonce(), stale));
  if (result.code !== 0) {
    throw new RemoteCommandError('taking the lock', result.code, result.stderr || result.stdout);
  }
  return reportOf(result.stdout);
}

/** A take's printed outcome; FLEET_LOCK_OUTPUT when it printed none. */
function reportOf(stdout: string): LockReport {
  const report = parseLockReport(stdout);
  if (report === undefined || report.state === 'none') {
    throw new HostError('FLEET_LOCK_OUTPUT', 'taking the lock printed no outcome', {
      hint: "the host's login shell must run the command it is given (see docs/fleet.md)",
    });
  }
  return report;
}

/**
 * The host that holds the fleet lock: the first host of the first data center in rollout order
 * (`dc_order`, else the file's order), whatever hosts a run targets, so every deploy and
 * rollback of this fleet meets there. Kamal keeps its deploy lock on the primary host the same
 * way.
 */
export function lockHostOf(fleet: Fleet): Host {
  const host = fleet.datacenters[0]?.hosts[0];
  if (!host) throw new FleetError('FLEET_NO_HOSTS', 'the inventory lists no hosts');
  return host;
}

/**
 * Takes the fleet lock for `info.deploy` on the lock host (lockHostOf): one deploy or rollback
 * of this fleet at a time, decided in one round trip before any other host is contacted. The
 * hosts' own locks are then taken as each is first reached. Returns the lock host. Throws
 * FleetError FLEET_LOCKED (exit 3) naming the holder, or FLEET_LOCK_HOST when the lock host
 * cannot be reached or cannot take it.
 */
export async function takeFleetLock(
  pool: ConnectionPool,
  fleet: Fleet,
  info: LockInfo,
  now: () => Date = () => new Date(),
): Promise<Host> {
  const host = lockHostOf(fleet);
  let report: LockReport;
  try {
    const connection = await pool.connection(host);
    report = await acquire(
      connection,
      fleetLockPlace(layoutOf(host.deployTo)),
      info,
      JSON.stringify(info),
      now,
    );
  } catch (err) {
    throw new FleetError(
      'FLEET_LOCK_HOST',
      `cannot take the fleet lock on ${host.name}: ${describeError(err)}`,
      { hint: lockHostHint(host, err) },
    );
  } finally {
    pool.release(host);
  }
  if (report.state !== 'taken') {
    const holder = parseLockInfo(report.holder);
    throw new FleetError('FLEET_LOCKED', `the fleet is locked by ${describeHolder(holder)}`, {
      hint: `wait for that deploy to finish; if it is dead, \`pier unlock\` removes the lock (it also expires at ${holder?.expires ?? 'its TTL'})`,
      exitCode: 3,
    });
  }
  return host;
}

/**
 * What to do when the fleet lock could not be taken, by cause: a host that cannot be reached
 * can be replaced as the lock host; a lock command that failed on the host (`deploy_to` missing
 * or not writable) is for `pier setup`; any other cause (an unknown host key, a refused login)
 * keeps its own hint (`pier trust`, ssh.user).
 */
export function lockHostHint(host: Host, err: unknown): string {
  const where = `the fleet lock lives on ${host.name}, the first host of the first data center in rollout order`;
  const code = err instanceof FleetError ? err.code : '';
  if (err instanceof RemoteCommandError)
    return `${where}: \`pier setup\` makes ${host.deployTo} on every host, writable by the deploy user (or set ssh.sudo)`;
  if (err instanceof FleetError && err.hint && !unreachable.has(code)) return err.hint;
  return `${where}; bring it back, or put another host first in that data center (or another data center first in dc_order)`;
}

/** Causes that mean the host is not there (as opposed to there and refusing). */
const unreachable = new Set([
  'FLEET_SSH_CONNECT',
  'FLEET_SSH_JUMP',
  'FLEET_REMOTE_TIMEOUT',
  'FLEET_SSH_CHANNEL',
]);

/** Frees this run's fleet lock (never another's); where it may remain, and why. Never throws. */
export async function releaseFleetLock(
  pool: ConnectionPool,
  host: Host,
  deployId: string,
): Promise<LockLeft | undefined> {
  const left = await releaseEach(
    pool,
    [host],
    deployId,
    () => {},
    (layout) => fleetLockPlace(layout),
  );
  const first = left[0];
  return first ? { host: first.host, error: `the fleet lock: ${first.error}` } : undefined;
}

/** `pier unlock` of the whole fleet: removes whatever fleet lock is there, saying whose. */
export async function breakFleetLock(pool: ConnectionPool, fleet: Fleet): Promise<BrokenLock | undefined> {
  const host = lockHostOf(fleet);
  try {
    const connection = await pool.connection(host);
    const result = await connection.exec(breakLock(fleetLockPlace(layoutOf(host.deployTo)), nonce()));
    if (result.code !== 0) {
      throw new RemoteCommandError('removing the fleet lock', result.code, result.stderr || result.stdout);
    }
    const report = parseLockReport(result.stdout);
    return report?.state === 'held' ? { host, holder: parseLockInfo(report.holder) } : undefined;
  } catch (err) {
    return { host, holder: undefined, error: describeError(err) };
  } finally {
    pool.release(host);
  }
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
  fleetLockHost?: Host,
): () => void {
  const limiter = new Limiter(256);
  const renew = (host: Host, place: LockPlace, line: string) =>
    limiter.run(async () => {
      const connection = await pool.connection(host).catch(() => undefined);
      await connection?.exec(renewLock(place, info.deploy, line)).catch(() => {});
      pool.release(host);
    });
  const timer = setInterval(
    () => {
      const line = JSON.stringify({ ...info, expires: new Date(now().getTime() + ttlMs).toISOString() });
      if (fleetLockHost) void renew(fleetLockHost, fleetLockPlace(layoutOf(fleetLockHost.deployTo)), line);
      for (const host of hosts()) void renew(host, layoutOf(host.deployTo), line);
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
  return releaseEach(pool, hosts, deployId, onHost, (layout) => layout);
}

/** unlockFleet for the lock at `placeOf` each host's layout (the host's own, or the fleet's). */
async function releaseEach(
  pool: ConnectionPool,
  hosts: readonly Host[],
  deployId: string,
  onHost: (failed: boolean) => void,
  placeOf: (layout: Layout) => LockPlace,
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
              const place = placeOf(layoutOf(host.deployTo));
              const result = await connection.exec(releaseLock(place, deployId, nonce()));
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

  /**
   * A test that succeeds while this deploy still holds the host's lock: the fence its steps
   * that change what a host runs put in front of themselves, in the same round trip. A deploy
   * whose lock was taken over (it was paused past lock_ttl) or broken (`pier unlock`) then
   * changes nothing on the host another run now holds.
   */
  fence(host: Host): Script {
    return { op: 'run', argv: ['test', '-e', lockOwnerFile(layoutOf(host.deployTo), this.info.deploy)] };
  }

  /** The command that takes this deploy's lock on a host, run in its first round trip. */
  takeScript(host: Host): Script {
    return takeLock(layoutOf(host.deployTo), this.info.deploy, this.line, nonce());
  }

  /**
   * After `takeScript` printed `stdout` on the host: taken, it is held from now on; held by this
   * deploy (--resume) or expired, it is taken over in one more round trip; held by another run,
   * HostError FLEET_LOCKED names the holder. FLEET_LOCK_OUTPUT when the take printed nothing.
   */
  async settle(connection: Connection, host: Host, stdout: string, now = () => new Date()): Promise<void> {
    const layout = layoutOf(host.deployTo);
    const report = await overtake(connection, layout, this.info, this.line, reportOf(stdout), now);
    if (report.state !== 'taken') {
      throw new HostError('FLEET_LOCKED', `locked by ${describeHolder(parseLockInfo(report.holder))}`, {
        hint: 'another deploy holds this host; if it is dead, `pier unlock --hosts` with this host removes its lock',
      });
    }
    this.holding.add(host);
  }

  /**
   * Takes a released host's lock again, or takes over one this deploy's earlier controller left
   * (a resumed deploy rolling back hosts a double Ctrl-C left locked) or one that expired, as a
   * first take does (overtake); FLEET_LOCKED when another deploy holds it now.
   */
  async retake(connection: Connection, host: Host, now = () => new Date()): Promise<void> {
    if (this.holding.has(host)) return;
    const layout = layoutOf(host.deployTo);
    const first = await take(connection, layout, this.info.deploy, this.line);
    const report = await overtake(connection, layout, this.info, this.line, first, now);
    if (report.state !== 'taken') {
      throw new HostError('FLEET_LOCKED', `locked by ${describeHolder(parseLockInfo(report.holder))}`);
    }
    this.holding.add(host);
  }
}
