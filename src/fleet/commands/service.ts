// Making the service run the release `current` points at. `systemd`: the unit (installed once on
// the host, or rendered from the release by unit.ts) is reloaded or restarted. `none`: start-stop-daemon keeps a pidfile and
// starts the command from `current`, so no process of pier stays behind on the host; the
// environment is loaded from files by /bin/sh, which then execs the command (environment.ts),
// so no value of service.env is in any process's argv.
import path from 'node:path/posix';
import { envFileName, loadEnv, sharedEnvFile } from './environment.js';
import { type Layout, runtimeDir } from './layout.js';
import { type AsRoot, asRoot, rootTools } from './privilege.js';
import { all, remotePath, render, type Script } from './shell.js';

export interface ServiceSpec {
  manager: 'systemd' | 'none';
  name: string;
  action: 'restart' | 'reload';
  /** systemd: the unit file's path inside the release, rendered at each activation. */
  unit?: string | undefined;
  command?: string[] | undefined;
  /** Only which keys it has matters here: the values travel in a file (environment.ts). */
  env?: Readonly<Record<string, unknown>> | undefined;
  /** A shared file (relative to <deploy_to>/shared) loaded before service.env. */
  env_file?: string | undefined;
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
  const env = spec.runtime === 'bundled' ? [`PATH=${runtimeBin(layout)}:${remotePath}`] : [];
  const load = loadEnv(path.join(layout.current, envFileName), sharedEnvFile(layout, spec.env_file));
  return all([
    ...['start-stop-daemon', '--start', '--quiet', '--background', '--make-pidfile'],
    ...['--pidfile', pidFile(layout, spec), '--chdir', layout.current],
    ...['--output', path.join(layout.log, `${spec.name}.log`), '--startas', '/usr/bin/env', '--'],
    ...env,
    ...['/bin/sh', '-c', `${render(load)} && exec "$@"`, spec.name],
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
