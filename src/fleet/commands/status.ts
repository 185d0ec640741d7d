// One probe per host for `pier status`: what `current` points at, the releases on disk, the last
// audit lines, the lock and whether the app runs, in sections a parser splits on a marker line.
import type { Layout } from './layout.js';
import { appRunning, parseServiceStatus, type ServiceSpec, serviceStatus } from './service.js';
import { all, each, either, optional, type Script } from './shell.js';

export const sectionMarker = '--pier-section--';

/**
 * The probe; `service`, when given, is the last section: whether the app runs (`running` or
 * `not running` for manager none, from the pidfile; the unit's properties for systemd).
 */
export function probeStatus(layout: Layout, service?: ServiceSpec): Script {
  const mark = ['echo', sectionMarker] as const;
  const serviceSection =
    service === undefined
      ? []
      : [
          mark,
          service.manager === 'systemd'
            ? optional(serviceStatus(service.name))
            : either(all(appRunning(layout, service), ['echo', 'running']), ['echo', 'not running']),
        ];
  return each(
    optional(['readlink', layout.current]),
    mark,
    optional(['ls', '-1', layout.releases]),
    mark,
    optional(['tail', '-n', '20', layout.revisions]),
    mark,
    optional(['cat', layout.lockInfo]),
    ...serviceSection,
  );
}

export interface StatusProbe {
  currentLink: string;
  releases: string[];
  revisions: string[];
  lockInfo: string;
  /** `running`, or what is wrong: `not running`, or the systemd unit's ActiveState (`failed`); '' unprobed. */
  service: string;
}

export function parseStatus(output: string): StatusProbe {
  const [current = '', releases = '', revisions = '', lock = '', service = ''] = output.split(
    `${sectionMarker}\n`,
  );
  const lines = (text: string): string[] => text.split('\n').filter((line) => line.trim() !== '');
  return {
    currentLink: current.trim(),
    releases: lines(releases).filter((name) => !name.startsWith('.')),
    revisions: lines(revisions),
    lockInfo: lock.trim(),
    service: serviceState(service),
  };
}

/** The service section in one word or two: `running` while the app serves. */
function serviceState(section: string): string {
  if (!section.includes('ActiveState=')) return section.trim();
  const state = parseServiceStatus(section).activeState;
  return state === 'active' || state === 'reloading' ? 'running' : state || 'unknown';
}
