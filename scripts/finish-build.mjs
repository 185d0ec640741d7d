// After tsc: make the bin entries executable (tsc keeps their shebangs but not the mode), and
// bundle the CGI path into one file.
import { chmodSync, readFileSync } from 'node:fs';
import path from 'node:path';

for (const bin of ['dist/src/cli/main.js', 'dist/src/hello/main.js']) chmodSync(bin, 0o755);

// A CGI process answers one request, and loading the twenty-odd modules behind cgi-process.js
// one by one costs it more than the answer does (bench/cgi). The module is replaced in place by
// its bundle, with the same exports; tsx stays outside (loaded only for .ts apps), and every
// bundled module keeps its own import.meta.url, so files found next to it still are.
const cgiProcess = 'dist/src/server/cgi/cgi-process.js';
const ownImportMetaUrl = {
  name: 'own-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.js$/ }, (args) => {
      const relative = path.relative(path.dirname(path.resolve(cgiProcess)), args.path);
      const contents = readFileSync(args.path, 'utf8').replaceAll(
        'import.meta.url',
        `new URL(${JSON.stringify(relative)}, import.meta.url).href`,
      );
      return { contents, loader: 'js' };
    });
  },
};
const esbuild = await import('esbuild').catch(() => undefined);
if (esbuild) {
  await esbuild.build({
    entryPoints: [cgiProcess],
    outfile: cgiProcess,
    allowOverwrite: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['tsx', 'tsx/*'],
    plugins: [ownImportMetaUrl],
    sourcemap: true,
    logLevel: 'warning',
  });
} else {
  process.stderr.write(
    'finish-build: esbuild is not installed; the CGI path stays unbundled (slower start)\n',
  );
}
