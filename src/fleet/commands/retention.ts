// Listing and removing old releases; which ones go is decided by rollout/retention.ts.
import type { Layout } from './layout.js';
import { all, optional, type Script } from './shell.js';

/** One `<mtime> <name>` line per release directory. */
export function listReleases(layout: Layout): Script {
  return optional([
    'find',
    layout.releases,
    '-mindepth',
    '1',
    '-maxdepth',
    '1',
    '-type',
    'd',
    '-printf',
    '%T@ %f\\n',
  ]);
}

export function removeReleases(layout: Layout, versions: readonly string[]): Script {
  return all(['rm', '-rf', ...versions.map((version) => layout.release(version))]);
}
