#!/usr/bin/env node
// The CGI entry: `node dist/src/server/cgi/main.cjs [--limit-post SIZE] [--body-timeout MS] APP`,
// the same as `pier cgi` without the CLI in front. The scripts `pier init` writes use it in
// their shebang, so that Apache's process per request starts no more than it needs. It is
// bundled as CommonJS into main-bundle.cjs, which main.cjs compiles with a V8 code cache
// (scripts/finish-build.mjs); main.js, as tsc writes it, still serves scripts written before.
import { cgiProcess } from './cgi-process.js';

void cgiProcess(process.argv.slice(2));
