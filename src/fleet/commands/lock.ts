// The fleet lock on a host: a directory made with mkdir (atomic: exactly one creator wins) that
// holds one JSON line saying who, since when and until when.
import type { Layout } from './layout.js';
import { all, optional, type Script, writeTo } from './shell.js';

/** Takes the lock directory; fails with "File exists" when someone holds it. */
export function takeLock(layout: Layout): Script {
  return all(['mkdir', '-p', layout.root], ['mkdir', layout.lock]);
}

/** Says who holds the lock just taken (its own step: a full disk fails here, visibly). */
export function writeLockInfo(layout: Layout, info: string): Script {
  return writeTo(['printf', '%s\\n', info], layout.lockInfo);
}

/** Replaces a lock that expired or that the same deploy left behind (--resume). */
export function replaceLock(layout: Layout, info: string): Script {
  return all(
    ['rm', '-rf', layout.lock],
    ['mkdir', layout.lock],
    writeTo(['printf', '%s\\n', info], layout.lockInfo),
  );
}

/** Removes the lock only when this deploy holds it, so a late release never frees someone else's. */
export function releaseLock(layout: Layout, deployId: string): Script {
  return optional(
    all(['grep', '-qF', `"deploy":"${deployId}"`, layout.lockInfo], ['rm', '-rf', layout.lock]),
  );
}

/**
 * Pushes this deploy's expiry forward while it runs; a lock that is no longer this deploy's
 * (broken by `pier unlock`, taken over) is left alone. The new line is written beside the old
 * and renamed over it, so a reader never sees half of it.
 */
export function renewLock(layout: Layout, deployId: string, info: string): Script {
  const next = `${layout.lockInfo}.next`;
  return optional(
    all(
      ['grep', '-qF', `"deploy":"${deployId}"`, layout.lockInfo],
      writeTo(['printf', '%s\\n', info], next),
      ['mv', '-f', next, layout.lockInfo],
    ),
  );
}

export function breakLock(layout: Layout): Script {
  return all(['rm', '-rf', layout.lock]);
}

export function readLock(layout: Layout): Script {
  return optional(['cat', layout.lockInfo]);
}
