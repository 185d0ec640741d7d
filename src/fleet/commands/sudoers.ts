// The smallest sudoers drop-in a deploy needs: exactly the privileged commands the deploy's own
// builders produce for this service (collected from them, so the rule and the commands cannot
// drift apart), NOPASSWD, with the release version as the only wildcard. Syntax: sudoers(5),
// "User specification" and "Wildcards" (`*` in an argument matches any characters).
import { envDropIn } from './environment.js';
import { layoutOf } from './layout.js';
import { asRoot, privilegedCommands } from './privilege.js';
import { applyRelease, type ServiceSpec, startService, stopService } from './service.js';
import type { Argv } from './shell.js';
import { installUnit } from './unit.js';

/** Stands for any version in a rule; a probe uses a concrete one (see deployCommands). */
const anyVersion = '*';

export interface SudoersTarget {
  user: string;
  deployTo: string;
  service: ServiceSpec;
}

/**
 * The commands a deploy, rollback or restart runs through sudo on such a host, `version`
 * standing in for the release (`*` for a rule, a real-looking name for a `sudo -l` probe).
 * Empty for service manager `none` (nothing needs root).
 */
export function deployCommands(target: SudoersTarget, version = anyVersion): Argv[] {
  const { service } = target;
  if (service.manager !== 'systemd') return [];
  const layout = layoutOf(target.deployTo);
  const root = asRoot(true);
  const scripts = [
    ...(service.unit ? [installUnit(layout, version, service.name, service.unit, root)] : []),
    ...envDropIn(layout, version, service, root),
    applyRelease(layout, { ...service, action: 'reload' }, false, root),
    applyRelease(layout, { ...service, action: 'restart' }, false, root),
    startService(layout, service, root),
    stopService(layout, service, root),
  ];
  const seen = new Set<string>();
  return scripts.flatMap(privilegedCommands).filter((argv) => {
    const key = argv.join(' ');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** sudoers(5) needs `,`, `:`, `=`, `\` and spaces inside an argument escaped. */
function escapeArg(arg: string): string {
  return arg.replace(/([,:=\\ ])/g, '\\$1');
}

/** The drop-in's text (for /etc/sudoers.d/pier-<app>), or undefined when nothing needs root. */
export function sudoersDropIn(app: string, target: SudoersTarget): string | undefined {
  const commands = deployCommands(target);
  if (commands.length === 0) return undefined;
  const lines = commands.map((argv) => `    ${argv.map(escapeArg).join(' ')}`);
  return [
    `# What ${target.user} may run as root to deploy ${app} (written by pier setup; see`,
    '# `pier setup --print-sudoers`). Installing a unit from a release is root-equivalent: the',
    '# unit decides what runs as whom, so guard who may create releases under the deploy path.',
    `${target.user} ALL=(root) NOPASSWD: \\`,
    `${lines.join(', \\\n')}`,
    '',
  ].join('\n');
}
