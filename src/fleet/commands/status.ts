// One probe per host for `pier status`: what `current` points at, the releases on disk, the last
// audit lines and the lock, in sections a parser splits on a marker line.
import type { Layout } from './layout.js';
import { each, optional, type Script } from './shell.js';

export const sectionMarker = '--pier-section--';

export function probeStatus(layout: Layout): Script {
  const mark = ['echo', sectionMarker] as const;
  return each(
    optional(['readlink', layout.current]),
    mark,
    optional(['ls', '-1', layout.releases]),
    mark,
    optional(['tail', '-n', '20', layout.revisions]),
    mark,
    optional(['cat', layout.lockInfo]),
  );
}

export interface StatusProbe {
  currentLink: string;
  releases: string[];
  revisions: string[];
  lockInfo: string;
}

export function parseStatus(output: string): StatusProbe {
  const [current = '', releases = '', revisions = '', lock = ''] = output.split(`${sectionMarker}\n`);
  const lines = (text: string): string[] => text.split('\n').filter((line) => line.trim() !== '');
  return {
    currentLink: current.trim(),
    releases: lines(releases).filter((name) => !name.startsWith('.')),
    revisions: lines(revisions),
    lockInfo: lock.trim(),
  };
}
