// `pier cgi APP`: run an app module as an RFC 3875 CGI script. Usable as a shebang:
//   #!/usr/bin/env -S pier cgi
// makes the app module itself the script Apache executes.
import type { Command } from 'commander';
import { loadCgiApp } from '../server/cgi/cgi-app.js';
import { stdoutOutput } from '../server/cgi/cgi-output.js';
import { defaultCgiLimits, runCgi } from '../server/cgi/run-cgi.js';
import { parseByteSize } from './parse-values.js';

export function registerCgi(program: Command): void {
  program
    .command('cgi')
    .description('answer one CGI request (RFC 3875) with an app module, for Apache mod_cgi/mod_cgid')
    .argument('<app>', 'app module: fetch handler object or function, or a Node (req, res) listener')
    .option(
      '--limit-post <bytes>',
      'largest request body accepted (e.g. 16m)',
      parseByteSize,
      defaultCgiLimits.limitPost,
    )
    .option(
      '--body-timeout <ms>',
      'give up on a stalled request body after this long',
      Number,
      defaultCgiLimits.timeoutMs,
    )
    .action(async (app: string, options: { limitPost: number; bodyTimeout: number }) => {
      process.exitCode = 0;
      await runCgi(() => loadCgiApp(app), {
        limitPost: options.limitPost,
        timeoutMs: options.bodyTimeout,
        env: process.env,
        stdin: () => process.stdin,
        stdout: stdoutOutput(),
        log: (line) => process.stderr.write(`${line}\n`),
      });
    });
}
