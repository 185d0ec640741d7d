#!/usr/bin/env node
// The `pier` command: parses arguments, hands validated options to the parts, prints errors.
// Only the command being run is loaded: `pier serve` (a long-lived master) should not carry
// the SSH and schema libraries of the fleet commands in its memory, and `pier cgi` (a process
// per request) not even the CLI framework.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { onBrokenPipe } from '../common/broken-pipe.js';

type Register = (program: Command) => void;
const commands: Record<string, () => Promise<Register>> = {
  serve: () => import('./serve-command.js').then((m) => m.registerServe),
  cgi: () => import('./cgi-command.js').then((m) => m.registerCgi),
  init: () => import('./init-command.js').then((m) => m.registerInit),
  setup: () => import('./setup-command.js').then((m) => m.registerSetup),
  release: () => import('./release-command.js').then((m) => m.registerRelease),
  releases: () => import('./release-command.js').then((m) => m.registerRelease),
  deploy: () => import('./deploy-command.js').then((m) => m.registerDeploy),
  rollback: () => import('./rollback-command.js').then((m) => m.registerRollback),
  status: () => import('./status-command.js').then((m) => m.registerStatus),
  dashboard: () => import('./dashboard-command.js').then((m) => m.registerDashboard),
  trust: () => import('./trust-command.js').then((m) => m.registerTrust),
  unlock: () => import('./unlock-command.js').then((m) => m.registerUnlock),
};

/** package.json's version; this file is dist/src/cli/main.js in the package. */
function packageVersion(): string {
  try {
    const file = new URL('../../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

async function runCli(argv: string[]): Promise<void> {
  const [{ Command, CommanderError }, { reportError }] = await Promise.all([
    import('commander'),
    import('./errors.js'),
  ]);
  const program = new Command('pier')
    .description('serve a TypeScript web app like uWSGI, and ship it to a fleet')
    .option('--verbose', 'print stacks with errors')
    .version(packageVersion(), '-V, --version', "print pier's version")
    // One line on where the usage is, not the whole help under the error that matters.
    .showHelpAfterError("(the command's --help shows its usage)")
    // Usage errors (an unknown option or command, a bad value) exit 2, bad input, as the
    // configuration's own errors do; commander has printed the message by then. Commands
    // registered below inherit this.
    .exitOverride();

  // The first word that is not a flag names the command; anything else (help, a typo) loads
  // all, so help lists every command and commander can suggest the closest one.
  const word = argv.slice(2).find((arg) => !arg.startsWith('-'));
  const load = word && word in commands ? [commands[word]] : [...new Set(Object.values(commands))];
  const registered = new Set<Register>();
  for (const loader of load) {
    const register = await loader?.();
    if (register && !registered.has(register)) {
      registered.add(register);
      register(program);
    }
  }

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    process.exitCode = reportError(err, program.opts<{ verbose?: boolean }>().verbose === true);
  }
}

const [command, ...rest] = process.argv.slice(2);
// `pier serve` keeps serving when the reader of its log goes away; every other command ends.
onBrokenPipe(command === 'serve' ? 'ignore' : 'exit');
if (command === 'cgi' && !rest.includes('--help') && !rest.includes('-h')) {
  const { cgiProcess } = await import('../server/cgi/cgi-process.js');
  await cgiProcess(rest);
} else {
  await runCli(process.argv);
}
