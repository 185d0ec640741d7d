// Rendering the systemd unit a release ships (`service.unit`): copied into /etc/systemd/system
// only when its bytes differ, then `daemon-reload`, so a release carries its own unit and a
// rollback brings the previous one back. Prints a marker when it changed: a changed unit needs
// a restart, since a reload keeps the process (and the old unit's settings) running.
import path from 'node:path/posix';
import type { Layout } from './layout.js';
import { type AsRoot, asRoot, rootTools } from './privilege.js';
import { all, either, type Script } from './shell.js';

export const unitDir = '/etc/systemd/system';
/** Printed by installUnit when it wrote a new unit. */
export const unitChangedMarker = 'pier-unit-changed';

/** `hello` → `hello.service`; a name with a unit suffix is kept. */
export function unitFileName(name: string): string {
  return /\.(service|socket|target|timer)$/.test(name) ? name : `${name}.service`;
}

/** The unit file `unitPath` of `releases/<version>` installed as the service's unit when it differs. */
export function installUnit(
  layout: Layout,
  version: string,
  name: string,
  unitPath: string,
  root: AsRoot = asRoot(false),
): Script {
  const source = path.join(layout.release(version), unitPath);
  const target = path.join(unitDir, unitFileName(name));
  // Written beside the target and renamed over it: systemd never reads a half-written unit
  // (and ignores the temporary name, which has no unit suffix).
  const temporary = `${target}.pier-tmp`;
  return either(
    ['cmp', '-s', source, target],
    all(
      root([rootTools.install, '-m', '0644', source, temporary]),
      root([rootTools.mv, '-fT', temporary, target]),
      root([rootTools.systemctl, 'daemon-reload']),
      ['echo', unitChangedMarker],
    ),
  );
}

/** True when installUnit's output says the unit was replaced. */
export function unitChanged(output: string): boolean {
  return output.split('\n').some((line) => line.trim() === unitChangedMarker);
}
