// A lock on a host (a host's own, <deploy_to>/.pier-lock, or the fleet lock on the lock host,
// <deploy_to>/.pier-fleet-lock; see LockPlace): a directory holding `info` (one JSON line:
// who, which deploy, since, until) and an empty file `deploy-<id>`, so "is it this deploy's?" is
// a `test -e`. A lock is built whole beside its place and renamed into it with `mv -T`, which
// fails when the place holds a lock (a non-empty directory): of two takers, exactly one wins, and
// nobody ever sees a lock without its info. Locks leave the same way: renamed aside, then removed.
//
// Every decision is an exit code or a file pier wrote, never a program's message (those come in
// the host's language). What the controller needs back is printed as pier's own lines: `taken`,
// or `held` followed by the holder's info, or `none`.
import type { Layout } from './layout.js';
import { all, each, either, optional, type Script, writeTo } from './shell.js';

/**
 * Where a lock lives: a host's own lock (its Layout: `<deploy_to>/.pier-lock`), or the fleet
 * lock (fleetLockPlace: `<deploy_to>/.pier-fleet-lock` on the fleet's lock host). Both work
 * the same way; `root` is created first.
 */
export interface LockPlace {
  root: string;
  lock: string;
  lockInfo: string;
}

/** The fleet lock, on the lock host (lock.ts `lockHostOf`): one deploy or rollback at a time. */
export function fleetLockPlace(layout: Layout): LockPlace {
  return { root: layout.root, lock: layout.fleetLock, lockInfo: `${layout.fleetLock}/info` };
}

export const lockOutcome = {
  taken: 'pier-lock: taken',
  held: 'pier-lock: held',
  none: 'pier-lock: none',
} as const;

export type LockReport = { state: 'taken' | 'none'; holder: '' } | { state: 'held'; holder: string };

/** The file naming the deploy that holds the lock. Deploy ids are [A-Za-z0-9._+-]. */
export function lockOwnerFile(layout: LockPlace, deployId: string): string {
  return `${layout.lock}/deploy-${deployId}`;
}

/** Beside the lock, on its filesystem (a rename never crosses one); `nonce` keeps takers apart. */
const newLock = (layout: LockPlace, nonce: string) => `${layout.lock}.new-${nonce}`;
const oldLock = (layout: LockPlace, nonce: string) => `${layout.lock}.old-${nonce}`;

/**
 * Takes the lock for `deployId`, or says who holds it. With `stale` (the holder's info line as
 * read before), that lock is first moved aside, but only while it still holds exactly that
 * line: a lock renewed or taken over meanwhile is put back. Exits 0 with `taken` or `held`
 * (+ info) on stdout; any other exit is a failure to act (its stderr says why).
 */
export function takeLock(
  layout: LockPlace,
  deployId: string,
  info: string,
  nonce: string,
  stale?: string,
): Script {
  const built = newLock(layout, nonce);
  return all(
    // One process, also on a bare host whose `deploy_to` is not there yet: `-p` makes it too
    // (and the nonce makes `built` a name no one else uses).
    ['mkdir', '-p', built],
    either(
      // Written by the shell itself (printf and true are builtins): no process per file.
      all(
        writeTo(['printf', '%s\\n', info], `${built}/info`),
        writeTo(['true'], `${built}/deploy-${deployId}`),
      ),
      all(['rm', '-rf', built], ['false']),
    ),
    ...(stale === undefined ? [] : [optional(moveAside(layout, stale, nonce))]),
    either(
      all(['mv', '-T', built, layout.lock], ['echo', lockOutcome.taken]),
      all(
        ['rm', '-rf', built],
        ['test', '-d', layout.lock],
        ['echo', lockOutcome.held],
        optional(['cat', layout.lockInfo]),
      ),
    ),
  );
}

function moveAside(layout: LockPlace, stale: string, nonce: string): Script {
  const aside = oldLock(layout, nonce);
  return all(
    ['grep', '-qxF', '-e', stale, layout.lockInfo],
    ['mv', '-T', layout.lock, aside],
    either(
      all(['grep', '-qxF', '-e', stale, `${aside}/info`], optional(['rm', '-rf', aside])),
      // Between the check and the rename someone else took the stale lock over: theirs goes back.
      all(['mv', '-T', aside, layout.lock], ['false']),
    ),
  );
}

/**
 * Pushes this deploy's expiry forward while it runs; a lock that is no longer this deploy's
 * (broken by `pier unlock`, taken over) is left alone. The new line is written beside the old
 * and renamed over it, so a reader never sees half of it.
 */
export function renewLock(layout: LockPlace, deployId: string, info: string): Script {
  const next = `${layout.lockInfo}.next`;
  return optional(
    all(['test', '-e', lockOwnerFile(layout, deployId)], writeTo(['printf', '%s\\n', info], next), [
      'mv',
      '-f',
      next,
      layout.lockInfo,
    ]),
  );
}

/**
 * Releases this deploy's lock, never someone else's. Exits 0 exactly when no lock of this
 * deploy is left: there was none, or it was renamed away (what remains aside is not a lock).
 */
export function releaseLock(layout: LockPlace, deployId: string, nonce: string): Script {
  return either(['test', '!', '-e', lockOwnerFile(layout, deployId)], removeLock(layout, nonce));
}

/**
 * `pier unlock`: prints `held` and the info of whatever lock is there (or `none`), then removes
 * it. Exits 0 exactly when no lock is left.
 */
export function breakLock(layout: LockPlace, nonce: string): Script {
  return each(
    either(all(['test', '-d', layout.lock], ['echo', lockOutcome.held], optional(['cat', layout.lockInfo])), [
      'echo',
      lockOutcome.none,
    ]),
    either(['test', '!', '-e', layout.lock], removeLock(layout, nonce)),
  );
}

function removeLock(layout: LockPlace, nonce: string): Script {
  const aside = oldLock(layout, nonce);
  return all(['mv', '-T', layout.lock, aside], optional(['rm', '-rf', aside]));
}

/**
 * What a lock command printed: the first of pier's outcome lines (anything a login shell printed
 * before it is ignored) and, after `held`, the holder's info. Undefined when there is none.
 */
export function parseLockReport(stdout: string): LockReport | undefined {
  const lines = stdout.split('\n');
  const at = lines.findIndex((line) => Object.values(lockOutcome).includes(line.trim() as never));
  if (at === -1) return undefined;
  const line = (lines[at] as string).trim();
  if (line === lockOutcome.held)
    return {
      state: 'held',
      holder: lines
        .slice(at + 1)
        .join('\n')
        .trim(),
    };
  return { state: line === lockOutcome.taken ? 'taken' : 'none', holder: '' };
}
