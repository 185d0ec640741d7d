// The fleet lock: taken on every targeted host before anything changes, released at the end
// whatever happened. A lock names its owner, deploy and expiry; an expired one, or one left by
// the same deploy (--resume after the controller died), is taken over; any other refuses the
// deploy, saying who holds it.

import { layoutOf } from './commands/layout.js';
import {
  breakLock,
  readLock,
  releaseLock,
  renewLock,
  replaceLock,
  takeLock,
  writeLockInfo,
} from './commands/lock.js';
import { describeError, FleetError } from './errors.js';
import type { Host } from './inventory/inventory.js';
import { Limiter } from './limiter.js';
import type { ConnectionPool } from './ssh/connection-pool.js';
import { RemoteCommandError } from './ssh/errors.js';

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
          const taken = await connection.exec(takeLock(layout));
          if (taken.code === 0) {
            try {
              await connection.check('writing the lock', writeLockInfo(layout, line));
            } catch (err) {
              await connection.exec(breakLock(layout)).catch(() => {});
              throw err;
            }
            locked.push(host);
            return;
          }
          if (!/exists/i.test(taken.stderr))
            throw new RemoteCommandError('taking the lock', taken.code, taken.stderr);
          const holder = parseLockInfo(await connection.check('reading the lock', readLock(layout)));
          const stale =
            holder && (holder.deploy === info.deploy || Date.parse(holder.expires) < now().getTime());
          if (!stale) {
            held.push({ host, holder });
            return;
          }
          await connection.check('replacing a stale lock', replaceLock(layout, line));
          // Two controllers replacing the same stale lock: the one whose line stayed wins.
          const after = parseLockInfo(await connection.check('reading the lock', readLock(layout)));
          if (after?.deploy === info.deploy) locked.push(host);
          else held.push({ host, holder: after });
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          unreachable.set(host.name, {
            error: describeError(err),
            code: typeof code === 'string' ? code : 'FLEET_HOST',
          });
        } finally {
          pool.release(host);
        }
      }),
    ),
  );
  if (held.length > 0) {
    await unlockFleet(pool, locked, info.deploy);
    const first = held[0];
    const names = held.map((entry) => entry.host.name);
    throw new FleetError(
      'FLEET_LOCKED',
      `the fleet is locked by ${describeHolder(first?.holder)} on ${held.length} host(s): ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''}`,
      {
        hint: `wait for that deploy to finish; if it is dead, \`pier unlock\` removes the lock (it also expires at ${first?.holder?.expires ?? 'its TTL'})`,
        exitCode: 3,
      },
    );
  }
  return { locked, unreachable };
}

/**
 * Keeps this deploy's locks alive while it runs: every third of the TTL the expiry moves a TTL
 * ahead, so a deploy that outlasts `lock_ttl` is not mistaken for a dead one and taken over.
 * A controller that dies stops renewing, and its locks expire as before. Returns `stop`.
 */
export function keepLocked(
  pool: ConnectionPool,
  hosts: readonly Host[],
  info: LockInfo,
  ttlMs: number,
  now: () => Date = () => new Date(),
): () => void {
  const limiter = new Limiter(256);
  const timer = setInterval(
    () => {
      const line = JSON.stringify({ ...info, expires: new Date(now().getTime() + ttlMs).toISOString() });
      for (const host of hosts) {
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

/** Releases this deploy's locks (never someone else's), best effort. */
export async function unlockFleet(
  pool: ConnectionPool,
  hosts: readonly Host[],
  deployId: string,
): Promise<void> {
  const limiter = new Limiter(256);
  await Promise.all(
    hosts.map((host) =>
      limiter.run(async () => {
        const connection = await pool.connection(host).catch(() => undefined);
        await connection?.exec(releaseLock(layoutOf(host.deployTo), deployId)).catch(() => {});
        pool.release(host);
      }),
    ),
  );
}

export interface BrokenLock {
  host: Host;
  holder: LockInfo | undefined;
  error?: string;
}

/** `pier unlock`: removes whatever lock is there, reporting who held it. */
export async function breakLocks(pool: ConnectionPool, hosts: readonly Host[]): Promise<BrokenLock[]> {
  const out: BrokenLock[] = [];
  const limiter = new Limiter(256);
  await Promise.all(
    hosts.map((host) =>
      limiter.run(async () => {
        try {
          const connection = await pool.connection(host);
          const layout = layoutOf(host.deployTo);
          const text = await connection.check('reading the lock', readLock(layout));
          await connection.check('removing the lock', breakLock(layout));
          if (text.trim() !== '') out.push({ host, holder: parseLockInfo(text) });
        } catch (err) {
          out.push({ host, holder: undefined, error: describeError(err) });
        } finally {
          pool.release(host);
        }
      }),
    ),
  );
  return out;
}
