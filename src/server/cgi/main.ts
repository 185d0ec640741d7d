#!/usr/bin/env node
// The CGI entry: `node dist/src/server/cgi/main.js [--limit-post SIZE] [--body-timeout MS] APP`,
// the same as `pier cgi` without the CLI in front. The scripts `pier init` writes use it in
// their shebang, so that Apache's process per request starts no more than it needs.
import { cgiProcess } from './cgi-process.js';

await cgiProcess(process.argv.slice(2));
