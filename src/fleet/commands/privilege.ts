// The commands that need root, and how they get it. With a root login they run as they are;
// with `sudo: true` each goes through `sudo -n` (never a password prompt: a prompt over a
// non-interactive channel would hang). Privileged programs are named by absolute path, so the
// sudoers rules of sudoers.ts match the exact command lines (sudoers(5), "Cmnd_List").
import { type Argv, all, either, quiet, type Script, writeTo } from './shell.js';

/** Where Debian (merged /usr, bookworm and later) keeps the programs run as root. */
export const rootTools = {
  systemctl: '/usr/bin/systemctl',
  install: '/usr/bin/install',
  mv: '/usr/bin/mv',
  rm: '/usr/bin/rm',
  ln: '/usr/bin/ln',
  useradd: '/usr/sbin/useradd',
  nginx: '/usr/sbin/nginx',
  visudo: '/usr/sbin/visudo',
} as const;

/** Exit status of a privileged step whose command `sudo -n` refuses (documented, stable). */
export const sudoRefusedExit = 97;
/** Printed on stdout before that exit, followed by the refused command line. */
export const sudoRefusedMarker = 'pier-sudo-refused:';

export type AsRoot = (argv: Argv) => Script;

/**
 * `sudo: false`: the argv as it is. `sudo: true`: first ask sudo whether this exact command may
 * run without a password (`sudo -n -l CMD` exits 0 only then), and exit 97 naming the command
 * when not, so the controller can say which rule is missing without reading sudo's messages.
 */
export function asRoot(sudo: boolean): AsRoot {
  if (!sudo) return (argv) => all(argv);
  return (argv) =>
    all(
      either(
        quiet(writeTo(['sudo', '-n', '-l', ...argv], '/dev/null')),
        all(
          ['printf', `${sudoRefusedMarker} %s\\n`, argv.join(' ')],
          ['sh', '-c', `exit ${sudoRefusedExit}`],
        ),
      ),
      ['sudo', '-n', '--', ...argv],
    );
}

/** The command sudo refused, from a privileged step's output (undefined when none was). */
export function refusedCommand(stdout: string): string | undefined {
  const line = stdout.split('\n').find((text) => text.startsWith(sudoRefusedMarker));
  return line?.slice(sudoRefusedMarker.length).trim();
}

/** Every command run through sudo in a script, in order: the raw material of a sudoers rule. */
export function privilegedCommands(script: Script): Argv[] {
  switch (script.op) {
    case 'run': {
      const { argv } = script;
      return argv[0] === 'sudo' && argv[1] === '-n' && argv[2] === '--' ? [argv.slice(3)] : [];
    }
    case 'and':
    case 'or':
    case 'seq':
    case 'pipe':
      return script.parts.flatMap(privilegedCommands);
    case 'write':
    case 'quiet':
      return privilegedCommands(script.script);
    case 'program':
      return [];
    case 'if':
      return [script.test, script.yes, script.no].flatMap(privilegedCommands);
  }
}
