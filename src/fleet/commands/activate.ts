// Activate: point `current` at a staged release. The new link is made beside the old one and
// renamed over it (rename(2) is atomic), so `current` is never missing or half-switched.
import type { Layout } from './layout.js';
import { all, optional, program, type Script } from './shell.js';

/**
 * Prints the release directory `current` leads to (`/opt/app/releases/v2`; see versionOfLink),
 * or nothing before the first deploy or when that directory is gone. The shell's `cd -P` and
 * `pwd -P` resolve it in a subshell: no readlink process on every host of a fleet.
 */
export function readCurrent(layout: Layout): Script {
  return optional(program('cd -P "$1" && pwd -P', [layout.current]));
}

export function switchCurrent(layout: Layout, version: string): Script {
  // Relative target: the tree stays valid if deploy_to is moved or mounted elsewhere.
  // -n replaces a current.tmp left by an interrupted switch instead of linking inside it.
  return all(
    ['ln', '-sfn', `releases/${version}`, layout.currentTmp],
    ['mv', '-T', layout.currentTmp, layout.current],
  );
}

/** `releases/v2` or `/opt/app/releases/v2` → `v2`; anything else → undefined. */
export function versionOfLink(target: string): string | undefined {
  const match = /(?:^|\/)releases\/([^/]+)\/?$/.exec(target.trim());
  return match?.[1];
}
