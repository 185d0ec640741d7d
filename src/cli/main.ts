#!/usr/bin/env node
// The `pier` command: parses arguments, hands validated options to the parts, prints errors.
import { Command } from 'commander';
import { registerCgi } from './cgi-command.js';
import { registerDeploy } from './deploy-command.js';
import { reportError } from './errors.js';
import { registerInit } from './init-command.js';
import { registerRelease } from './release-command.js';
import { registerRollback } from './rollback-command.js';
import { registerServe } from './serve-command.js';
import { registerStatus } from './status-command.js';
import { registerTrust } from './trust-command.js';
import { registerUnlock } from './unlock-command.js';

const program = new Command('pier')
  .description('serve a TypeScript web app like uWSGI, and ship it to a fleet')
  .option('--verbose', 'print stacks with errors')
  .showHelpAfterError();
registerCgi(program);
registerRelease(program);
registerDeploy(program);
registerRollback(program);
registerStatus(program);
registerTrust(program);
registerUnlock(program);
registerServe(program);
registerInit(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportError(err, program.opts<{ verbose?: boolean }>().verbose === true);
}
