// Where things live on a host under its deploy_to (Capistrano's layout): releases/<version>,
// the `current` symlink, shared/ for logs and pidfiles, revisions.log, and the lock directory.
import path from 'node:path/posix';

/**
 * Inside a release: `runtime.json` (the Node that built it: version, ABI, platform, arch) and,
 * with `runtime: bundled`, `bin/node` itself.
 */
export const runtimeDir = '.pier-runtime';

export interface Layout {
  root: string;
  releases: string;
  current: string;
  currentTmp: string;
  shared: string;
  log: string;
  revisions: string;
  lock: string;
  lockInfo: string;
  /** The fleet lock's place, used on the lock host only (commands/lock.ts). */
  fleetLock: string;
  /** The host Node's `VERSION ABI PLATFORM ARCH`, keyed by its binary's identity (stage.ts). */
  hostRuntime: string;
  release: (version: string) => string;
  /** Unpacked here first, then renamed, so a half-unpacked release never looks staged. */
  partial: (version: string) => string;
  incoming: (sha256: string) => string;
  /** Holds the artifact's SHA-256: a staged release is one whose marker names our artifact. */
  marker: (version: string) => string;
}

export function layoutOf(deployTo: string): Layout {
  const releases = path.join(deployTo, 'releases');
  return {
    root: deployTo,
    releases,
    current: path.join(deployTo, 'current'),
    currentTmp: path.join(deployTo, 'current.tmp'),
    shared: path.join(deployTo, 'shared'),
    log: path.join(deployTo, 'shared', 'log'),
    revisions: path.join(deployTo, 'revisions.log'),
    lock: path.join(deployTo, '.pier-lock'),
    lockInfo: path.join(deployTo, '.pier-lock', 'info'),
    fleetLock: path.join(deployTo, '.pier-fleet-lock'),
    hostRuntime: path.join(deployTo, '.pier-host-node'),
    release: (version) => path.join(releases, version),
    partial: (version) => path.join(releases, `.partial-${version}`),
    incoming: (sha256) => path.join(releases, `.incoming-${sha256}.tar.gz`),
    marker: (version) => path.join(releases, version, '.pier-artifact'),
  };
}
