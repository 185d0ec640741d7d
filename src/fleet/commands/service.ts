// Making the service run the release `current` points at. `systemd`: the unit (installed once on
// the host, or rendered from the release by unit.ts) is reloaded or restarted. `none`: start-stop-daemon keeps a pidfile and
// starts the command from `current`, so no process of pier stays behind on the host.
import path from 'node:path/posix';
import { type Layout, runtimeDir } from './layout.js';
import { type AsRoot, asRoot, rootTools } from './privilege.js';
import { all, remotePath, type Script } from './shell.js';

export interface ServiceSpec {
  manager: 'systemd' | 'none';
  name: string;
  action: 'restart' | 'reload';
  /** systemd: the unit file's path inside the release, rendered at each activation. */
  unit?: string | undefined;
  command?: string[] | undefined;
  env: Record<string, string>;
  stop_timeout: number;
  /** `bundled`: the app finds the release's own Node first on its PATH. */
  runtime?: 'bundled' | 'host' | undefined;
}

/** The bundled Node's directory in the live release (`runtime: bundled`). */
export function runtimeBin(layout: Layout): string {
  return path.join(layout.current, runtimeDir, 'bin');
}

export function pidFile(layout: Layout, spec: ServiceSpec): string {
  return path.join(layout.shared, `${spec.name}.pid`);
}

export function stopService(layout: Layout, spec: ServiceSpec, root: AsRoot = asRoot(false)): Script {
  if (spec.manager === 'systemd') return root([rootTools.systemctl, 'stop', spec.name]);
  const seconds = Math.max(1, Math.ceil(spec.stop_timeout / 1000));
  return all([
    ...['start-stop-daemon', '--stop', '--quiet', '--oknodo', '--pidfile', pidFile(layout, spec)],
    ...['--remove-pidfile', '--retry', `TERM/${seconds}/KILL/5`],
  ]);
}

export function startService(layout: Layout, spec: ServiceSpec, root: AsRoot = asRoot(false)): Script {
  if (spec.manager === 'systemd') return root([rootTools.systemctl, 'start', spec.name]);
  const env = Object.entries(spec.env).map(([key, value]) => `${key}=${value}`);
  if (spec.runtime === 'bundled') env.unshift(`PATH=${runtimeBin(layout)}:${remotePath}`);
  return all([
    ...['start-stop-daemon', '--start', '--quiet', '--background', '--make-pidfile'],
    ...['--pidfile', pidFile(layout, spec), '--chdir', layout.current],
    ...['--output', path.join(layout.log, `${spec.name}.log`), '--startas', '/usr/bin/env', '--'],
    ...env,
    ...(spec.command ?? []),
  ]);
}

/** After `current` moved: make the service serve it. A changed unit is applied by a restart only. */
export function applyRelease(
  layout: Layout,
  spec: ServiceSpec,
  unitChanged = false,
  root: AsRoot = asRoot(false),
): Script {
  if (spec.manager === 'systemd') {
    // reload-or-restart: a unit that is not running yet (first deploy) is started instead.
    const reload = spec.action === 'reload' && !unitChanged;
    return root([rootTools.systemctl, reload ? 'reload-or-restart' : 'restart', spec.name]);
  }
  return all(stopService(layout, spec), startService(layout, spec));
}
