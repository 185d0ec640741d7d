// Builds pier's native gateway transport (binding.gyp → build/Release/gateway_io.node) with the
// node-gyp that npm bundles, against the installed Node's headers when they are there. Runs on
// `npm ci` / `npm install` (the package's install script) and as `npm run build:native`.
//
// A machine that cannot build it (no compiler, not Linux) still gets a working pier: the uwsgi
// front-end then drives libuv's handles from JavaScript, and says so once in its log. So a
// failed build is reported here and does not fail the install.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// node-gyp works in the package root (binding.gyp), wherever this runs from.
process.chdir(path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));

if (process.platform !== 'linux') {
  console.log('pier: the native gateway transport is Linux-only; uwsgi runs on libuv handles here');
  process.exit(0);
}

// npm tells its scripts where its node-gyp is; run by hand, look beside the npm that runs Node.
const bundled = path.join(
  path.dirname(process.execPath),
  '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
);
const nodeGyp = process.env.npm_config_node_gyp || (existsSync(bundled) ? bundled : undefined);
if (!nodeGyp) {
  console.warn(
    'pier: node-gyp not found; the native gateway transport is not built (uwsgi runs on libuv handles)',
  );
  process.exit(0);
}
const args = [nodeGyp, 'rebuild'];
// Build against the headers of the Node that runs pier when they are installed (no download).
if (
  !process.env.npm_config_nodedir &&
  existsSync(path.join(path.dirname(process.execPath), '../include/node/node_api.h'))
)
  args.push(`--nodedir=${path.resolve(path.dirname(process.execPath), '..')}`);
const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
if (result.status !== 0) {
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
  console.warn(
    `${output}\npier: the native gateway transport did not build (above); uwsgi will run on libuv handles`,
  );
  process.exit(0);
}
// Keep only the module: the rest of build/ (makefiles, objects, dependency files) names this
// directory's absolute path, and an app that depends on pier would otherwise never pack into
// the same bytes twice (pier release builds artifacts in a fresh directory each time).
const built = path.join('build', 'Release', 'gateway_io.node');
const kept = readFileSync(built);
rmSync('build', { recursive: true, force: true });
mkdirSync(path.dirname(built), { recursive: true });
writeFileSync(built, kept, { mode: 0o755 });
console.log(`pier: built the native gateway transport (${built})`);
