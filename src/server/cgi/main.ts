#!/usr/bin/env node
// The CGI entry: `node dist/src/server/cgi/main.cjs [--limit-post SIZE] [--body-timeout MS] APP`,
// the same as `pier cgi` without the CLI in front. The scripts `pier init` writes use it in
// their shebang, so that Apache's process per request starts no more than it needs. main.cjs is
// this module bundled as CommonJS (scripts/finish-build.mjs); main.js, as tsc writes it, still
// serves scripts written before there was one.
import { cgiProcess } from './cgi-process.js';

void cgiProcess(process.argv.slice(2));
