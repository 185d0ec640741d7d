// The release's environment on a host: service.env, resolved on the controller, is written to
// releases/<version>/.pier-env (mode 0600) from the command's stdin, so no value is ever in an
// argv (ps) or the script text; the service and the hooks load it from there, after the shared
// env_file. One format serves both readers: KEY="value" lines, where `"`, `\`, `$` and a
// backquote are backslash-escaped, read back byte-exact by sh's `.` (POSIX "Double-Quotes") and
// by systemd's EnvironmentFile= (systemd.exec(5): the same escapes inside double quotes, and a
// newline inside the quotes is part of the value).
import path from 'node:path/posix';
import type { Layout } from './layout.js';
import { type AsRoot, asRoot, rootTools } from './privilege.js';
import { all, either, type Script, writeTo } from './shell.js';
import { unitChangedMarker, unitDir, unitFileName } from './unit.js';

/** Inside a release: the environment file pier writes at each stage. */
export const envFileName = '.pier-env';
/** Inside a release (systemd): the drop-in that makes the unit load the environment. */
export const dropInFileName = '.pier-systemd-env.conf';

/** What of the service decides where its environment goes. */
export interface EnvTarget {
  manager: 'systemd' | 'none';
  name: string;
  action: 'restart' | 'reload';
  /** Only which keys it has matters here: the values travel in the file. */
  env?: Readonly<Record<string, unknown>> | undefined;
  env_file?: string | undefined;
}

/** Whether the service has an environment to load (service.env or env_file). */
export function hasEnvironment(target: Pick<EnvTarget, 'env' | 'env_file'>): boolean {
  return target.env_file !== undefined || Object.keys(target.env ?? {}).length > 0;
}

/** The absolute path of service.env_file on the host (a shared file), if there is one. */
export function sharedEnvFile(layout: Layout, envFile: string | undefined): string | undefined {
  return envFile === undefined ? undefined : path.join(layout.shared, envFile);
}

export function releaseEnvFile(layout: Layout, version: string): string {
  return path.join(layout.release(version), envFileName);
}

/** `{ A: 'x"y' }` → `A="x\"y"\n`; keys are already checked names (schema). */
export function envFileText(values: Readonly<Record<string, string>>): string {
  return Object.entries(values)
    .map(([key, value]) => `${key}="${value.replace(/["\\$`]/g, '\\$&')}"\n`)
    .join('');
}

/** Writes stdin to the release's environment file: created 0600 before a byte arrives, then renamed. */
export function writeReleaseEnv(layout: Layout, version: string): Script {
  const file = releaseEnvFile(layout, version);
  const partial = `${file}.tmp`;
  return all(['install', '-m', '0600', '/dev/null', partial], writeTo(['cat'], partial), [
    'mv',
    '-f',
    partial,
    file,
  ]);
}

/**
 * Loads the environment into the running shell, exported: the shared env_file first, then the
 * release's own file (service.env wins). A release staged before pier wrote one has none.
 */
export function loadEnv(envFile: string, sharedEnvFile: string | undefined): Script {
  return all(
    ['set', '-a'],
    ...(sharedEnvFile === undefined ? [] : [['.', sharedEnvFile]]),
    either(['test', '!', '-f', envFile], ['.', envFile]),
    ['set', '+a'],
  );
}

/** The systemd drop-in's text: the same two files, in the same order, read at each start. */
export function dropInText(layout: Layout, sharedEnvFile: string | undefined): string {
  return [
    '# Written by pier: the environment of the release `current` points at (service.env) and',
    '# the shared env_file. Read when the service starts.',
    '[Service]',
    ...(sharedEnvFile === undefined ? [] : [`EnvironmentFile=${sharedEnvFile}`]),
    `EnvironmentFile=-${path.join(layout.current, envFileName)}`,
    '',
  ].join('\n');
}

export function writeDropIn(layout: Layout, version: string, text: string): Script {
  return writeTo(['printf', '%s', text], path.join(layout.release(version), dropInFileName));
}

/** /etc/systemd/system/<unit>.d/pier-env.conf */
export function dropInTarget(serviceName: string): string {
  return path.join(unitDir, `${unitFileName(serviceName)}.d`, 'pier-env.conf');
}

/**
 * Installs the release's drop-in when it differs (then daemon-reload) and prints the unit-changed
 * marker when the service must restart to see a new environment: a changed drop-in, or (with
 * `reloadOnly`, action reload) an environment that differs from the running release's.
 */
export function installDropIn(
  layout: Layout,
  version: string,
  serviceName: string,
  reloadOnly: boolean,
  root: AsRoot = asRoot(false),
): Script {
  const source = path.join(layout.release(version), dropInFileName);
  const target = dropInTarget(serviceName);
  const temporary = `${target}.pier-tmp`;
  // A release staged before it had an environment has no drop-in: the installed one stays.
  const install = either(
    ['test', '!', '-f', source],
    ['cmp', '-s', source, target],
    all(
      root([rootTools.install, '-d', '-m', '0755', path.dirname(target)]),
      root([rootTools.install, '-m', '0644', source, temporary]),
      root([rootTools.mv, '-fT', temporary, target]),
      root([rootTools.systemctl, 'daemon-reload']),
      ['echo', unitChangedMarker],
    ),
  );
  if (!reloadOnly) return install;
  const running = path.join(layout.current, envFileName);
  return all(
    install,
    either(['cmp', '-s', running, releaseEnvFile(layout, version)], ['echo', unitChangedMarker]),
  );
}

/** systemd with an environment: the drop-in step of an activation (none otherwise). */
export function envDropIn(
  layout: Layout,
  version: string,
  target: EnvTarget,
  root: AsRoot = asRoot(false),
): Script[] {
  if (target.manager !== 'systemd' || !hasEnvironment(target)) return [];
  return [installDropIn(layout, version, target.name, target.action === 'reload', root)];
}
