// After tsc: make the bin entries executable (tsc keeps their shebangs but not the mode), and
// bundle the CGI path into one file.
import { chmodSync, readFileSync } from 'node:fs';
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
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  external: ['tsx', 'tsx/*'],
  plugins: [ownImportMetaUrl],
  sourcemap: true,
  logLevel: 'warning',
};
const esbuild = await import('esbuild').catch(() => undefined);
if (esbuild) {
  // main.cjs first: it bundles the modules tsc wrote, before cgi-process.js becomes a bundle.
  await esbuild.build({
    ...common,
    entryPoints: [`${cgiDir}/main.js`],
    outfile: `${cgiDir}/main.cjs`,
    format: 'cjs',
    define: { 'import.meta.url': 'bundle.url' },
    plugins: [ownImportMetaUrl, lazyNodeModule],
    inject: ['scripts/bundle-url.js'],
  });
  const cgiProcess = `${cgiDir}/cgi-process.js`;
  await esbuild.build({
    ...common,
    entryPoints: [cgiProcess],
    outfile: cgiProcess,
    allowOverwrite: true,
    format: 'esm',
  });
  chmodSync(`${cgiDir}/main.cjs`, 0o755);
} else {
  process.stderr.write(
    'finish-build: esbuild is not installed; the CGI path stays unbundled (slower start)\n',
  );
}
