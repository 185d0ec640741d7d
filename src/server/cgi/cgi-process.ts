// One CGI process from its arguments to its exit: what `pier cgi` and the dedicated CGI entry
// (main.ts, the shebang `pier init` writes) run. Imports only what answering one request needs.

import { sendError } from '../app/dispatch.js';
import { installLightResponse } from '../app/light-response.js';
import { describeError } from '../errors.js';
import { loadCgiApp } from './cgi-app.js';
import { parseCgiArguments } from './cgi-arguments.js';
import { stdoutOutput } from './cgi-output.js';
import { cgiSink } from './cgi-sink.js';
import { runCgi } from './run-cgi.js';

/**
 * Answers the CGI request in process.env and stdin with the app named in `argv` (the words
 * after `cgi`). Bad arguments are a misconfigured script: one stderr line and a 500 to the
 * client, exit code 2; an app that cannot be loaded, the same with exit code 1.
 */
export async function cgiProcess(argv: readonly string[]): Promise<void> {
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  let args: ReturnType<typeof parseCgiArguments>;
  try {
    args = parseCgiArguments(argv);
  } catch (err) {
    log(`error[${(err as { code?: string }).code ?? 'CGI_USAGE'}]: ${describeError(err)}`);
    sendError(cgiSink(stdoutOutput()), 500);
    process.exitCode = 2;
    return;
  }
  process.exitCode = 0;
  // As in workers: a plain string Response is written without building undici's.
  installLightResponse();
  // An app that cannot be loaded is the script's own failure: the client gets a 500 and the
  // process exits 1, as a CGI script that failed does (a 500 the app chose exits 0).
  const load = () =>
    loadCgiApp(args.app).catch((err: unknown) => {
      process.exitCode = 1;
      throw err;
    });
  await runCgi(load, {
    limitPost: args.limitPost,
    timeoutMs: args.timeoutMs,
    env: process.env,
    stdin: () => process.stdin,
    stdout: stdoutOutput(),
    log,
  });
}
