// Makes the V8 code cache of the CGI bundle (finish-build.mjs): `node --preserve-symlinks-main
// cgi-code-cache.cjs ENTRY APP` with a CGI request in the environment. Runs the request the way
// ENTRY (dist/src/server/cgi/main.cjs) does, then writes the bytecode of every function that
// ran to the cache file ENTRY reads. The flag matters: V8 refuses a cache made under other flags.
'use strict';
const { renameSync, writeFileSync } = require('node:fs');
const path = require('node:path');

const [entry, app] = process.argv.slice(2).map((file) => path.resolve(file));
const { compileBundle, run, codeCache } = require(entry);
const script = compileBundle(undefined);
process.argv = [process.argv[0], entry, app];
process.on('exit', () => {
  // Whole or not at all: a reader never meets half a file.
  writeFileSync(`${codeCache}.tmp`, script.createCachedData());
  renameSync(`${codeCache}.tmp`, codeCache);
});
run(script);
