// The fleet lock on a host: a directory made with mkdir (atomic: exactly one creator wins) that
// holds one JSON line saying who, since when and until when.
import type { Layout } from './layout.js';
import { all, each, either, optional, quiet, type Script, writeTo } from './shell.js';

/** Succeeds and takes the lock, or fails and prints the holder's info line. */
export function takeLock(layout: Layout, info: string): Script {
  return either(
    all(
      ['mkdir', '-p', layout.root],
      quiet(['mkdir', layout.lock]),
      writeTo(['printf', '%s\\n', info], layout.lockInfo),
    ),
    each(optional(['cat', layout.lockInfo]), ['false']),
  );
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

export function breakLock(layout: Layout): Script {
  return all(['rm', '-rf', layout.lock]);
}

export function readLock(layout: Layout): Script {
  return optional(['cat', layout.lockInfo]);
}
