// After tsc: make the bin entries executable (tsc keeps their shebangs but not the mode), and
// bundle the CGI path into one file.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

for (const bin of ['dist/src/cli/main.js', 'dist/src/hello/main.js']) chmodSync(bin, 0o755);

// A CGI process answers one request, and loading the twenty-odd modules behind cgi-process.js
// one by one costs it more than the answer does (bench/cgi). Two bundles of the same code:
// cgi-process.js is replaced in place by its bundle, with the same exports (for `pier cgi`);
// main.cjs is the CGI entry the scripts `pier init` writes run, in CommonJS, because starting
// Node's ES module loader costs a CGI process ~3 ms (bench/cgi). tsx stays outside (loaded only
// for .ts apps), and every bundled module keeps its own import.meta.url, so files found next to
// it still are.
const cgiDir = 'dist/src/server/cgi';
const ownImportMetaUrl = {
  name: 'own-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.js$/ }, (args) => {
      const relative = path.relative(path.resolve(cgiDir), args.path);
      const contents = readFileSync(args.path, 'utf8').replaceAll(
        'import.meta.url',
        `new URL(${JSON.stringify(relative)}, import.meta.url).href`,
      );
      return { contents, loader: 'js' };
    });
  },
};
const lazyNodeModule = {
  name: 'lazy-node-module',
  setup(build) {
    const shim = path.resolve('scripts/lazy-node-module.js');
    // The shim's own require('node:module') is the real one.
    build.onResolve({ filter: /^node:module$/ }, (args) =>
      args.importer === shim ? { path: 'node:module', external: true } : { path: shim },
    );
  },
};
// The CGI entry's own import() (src/server/app/dynamic-import.ts says why).
const cgiDynamicImport = {
  name: 'cgi-dynamic-import',
  setup(build) {
    build.onResolve({ filter: /\/dynamic-import\.js$/ }, () => ({
      path: path.resolve('scripts/cgi-dynamic-import.js'),
    }));
  },
};
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  external: ['tsx', 'tsx/*'],
  plugins: [ownImportMetaUrl],
  sourcemap: true,
  logLevel: 'warning',
};
// main.cjs, the entry: it compiles the bundle with the V8 code cache made below. A CGI process
// runs its code once, so each function it calls is compiled on the spot; with the cache, V8
// takes their bytecode from the file instead, about 1 ms of a 22 ms process (bench/cgi). V8
// refuses a cache made by another V8 version or with other flags and then compiles as usual;
// it checks the source only by length, so the cache's name carries the bundle's digest and a
// rebuilt bundle never meets an old cache. The bundle's shebang becomes a comment of the same
// line, so its source map still holds.
const cgiBundle = 'main-bundle.cjs';
function writeCgiEntry() {
  const file = `${cgiDir}/${cgiBundle}`;
  const source = readFileSync(file, 'utf8').replace(/^#!.*/, '// bundled by scripts/finish-build.mjs');
  writeFileSync(file, source);
  chmodSync(file, 0o644);
  const digest = createHash('sha256').update(source).digest('hex').slice(0, 16);
  for (const old of readdirSync(cgiDir).filter((name) => name.endsWith('.v8cache')))
    rmSync(`${cgiDir}/${old}`);
  writeFileSync(
    `${cgiDir}/main.cjs`,
    `#!/usr/bin/env node
'use strict';
// pier's CGI entry, written by scripts/finish-build.mjs: compiles ${cgiBundle} (src/server/cgi/
// main.ts and what it imports) with the V8 code cache made at build time, then runs it.
const { readFileSync } = require('node:fs');
const { Script } = require('node:vm');
const bundle = \`\${__dirname}/${cgiBundle}\`;
const codeCache = \`\${__dirname}/main-bundle.${digest}.v8cache\`;
function compileBundle(cachedData) {
  const source = readFileSync(bundle, 'utf8');
  const wrapped = \`(function (exports, require, module, __filename, __dirname, pierImport) {\${source}\\n})\`;
  return new Script(wrapped, { filename: bundle, cachedData });
}
function readCodeCache() {
  try {
    return readFileSync(codeCache);
  } catch {
    return undefined;
  }
}
function run(script) {
  // import() from here, a module Node loaded itself (see src/server/app/dynamic-import.ts).
  script.runInThisContext()(module.exports, require, module, bundle, __dirname, (specifier) => import(specifier));
}
if (require.main === module) run(compileBundle(readCodeCache()));
else module.exports = { compileBundle, readCodeCache, run, codeCache };
`,
  );
}

// Runs one GET for pier's Hello through the bundle (scripts/cgi-code-cache.cjs), and writes the
// bytecode of every function it compiled as the code cache main.cjs reads.
function writeCgiCodeCache() {
  const stub = `${cgiDir}/.code-cache-app.js`;
  writeFileSync(stub, "export { default } from '../../hello/hello.js';\n");
  try {
    const run = spawnSync(
      process.execPath,
      ['--preserve-symlinks-main', 'scripts/cgi-code-cache.cjs', `${cgiDir}/main.cjs`, stub],
      {
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH ?? '',
          GATEWAY_INTERFACE: 'CGI/1.1',
          REQUEST_METHOD: 'GET',
          REQUEST_URI: '/',
          SERVER_NAME: 'localhost',
          SERVER_PORT: '80',
          SERVER_PROTOCOL: 'HTTP/1.1',
          HTTP_HOST: 'localhost',
          REMOTE_ADDR: '127.0.0.1',
        },
      },
    );
    if (run.status !== 0 || !run.stdout.startsWith('Status: 200 OK'))
      throw new Error(`finish-build: the CGI code cache run failed (exit ${run.status}): ${run.stderr}`);
  } finally {
    rmSync(stub, { force: true });
  }
}

const esbuild = await import('esbuild').catch(() => undefined);
if (esbuild) {
  // The CGI bundle first: it bundles the modules tsc wrote, before cgi-process.js becomes one.
  await esbuild.build({
    ...common,
    entryPoints: [`${cgiDir}/main.js`],
    outfile: `${cgiDir}/${cgiBundle}`,
    format: 'cjs',
    define: { 'import.meta.url': 'bundle.url' },
    plugins: [ownImportMetaUrl, lazyNodeModule, cgiDynamicImport],
    inject: ['scripts/bundle-url.js'],
  });
  writeCgiEntry();
  const cgiProcess = `${cgiDir}/cgi-process.js`;
  await esbuild.build({
    ...common,
    entryPoints: [cgiProcess],
    outfile: cgiProcess,
    allowOverwrite: true,
    format: 'esm',
  });
  chmodSync(`${cgiDir}/main.cjs`, 0o755);
  writeCgiCodeCache();
} else {
  process.stderr.write(
    'finish-build: esbuild is not installed; the CGI path stays unbundled (slower start)\n',
  );
}
