#!/usr/bin/env node
// The `hello` command, and the same file as a CGI script: under a web server (the seed checks
// REQUEST_URI; GATEWAY_INTERFACE is the RFC 3875 marker) it answers the request, otherwise it
// prints the Hello line.
import { toApp } from '../server/app/handler.js';
import { stdoutOutput } from '../server/cgi/cgi-output.js';
import { defaultCgiLimits, runCgi } from '../server/cgi/run-cgi.js';
import hello, { doMagic } from './hello.js';

if (process.env.GATEWAY_INTERFACE !== undefined || process.env.REQUEST_URI !== undefined) {
  await runCgi(toApp(hello, 'hello'), {
    ...defaultCgiLimits,
    env: process.env,
    stdin: () => process.stdin,
    stdout: stdoutOutput(),
    log: (line) => process.stderr.write(`${line}\n`),
  });
} else {
  process.stdout.write(`${doMagic()}\n`);
}
