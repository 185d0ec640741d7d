// pier release of an app with a native addon (a local package with binding.gyp, packed with
// `npm pack` and committed, so `npm ci` builds it with node-gyp inside node_modules, offline):
// two clones at different paths build the same bytes, and the artifact keeps the loadable
// module but none of node-gyp's Makefiles, config.gypi or objects, which name the build path.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pier } from './helpers/fleet-cli.js';
import { configureIdentity, createGitRepo, type GitRepo } from './helpers/git-repo.js';

// Debian's node headers (no download), and no registry: the addon comes from the committed .tgz.
const npmEnv = { npm_config_nodedir: '/usr', npm_config_offline: 'true', npm_config_audit: 'false' };
const addonModule = './node_modules/hello-addon/build/Release/hello.node';

// The header is found through an absolute include path (as node-addon-api's is) and its assert()
// embeds __FILE__; -g adds the compile directory to the debug info: both name the build path.
const addon = {
  'package.json': `${JSON.stringify({ name: 'hello-addon', version: '1.0.0', main: 'index.js', gypfile: true })}\n`,
  'binding.gyp': `${JSON.stringify({
    targets: [
      {
        target_name: 'hello',
        sources: ['src/hello.c'],
        include_dirs: ['<(module_root_dir)/include'],
        cflags: ['-g'],
      },
    ],
  })}\n`,
  'index.js': "module.exports = require('./build/Release/hello.node');\n",
  'include/greeting.h': `#include <assert.h>
#include <node_api.h>
static inline napi_value greeting(napi_env env) {
  napi_value out;
  napi_status status = napi_create_string_utf8(env, "hello from C", NAPI_AUTO_LENGTH, &out);
  assert(status == napi_ok);
  return out;
}
`,
  'src/hello.c': `#include "greeting.h"
static napi_value hello(napi_env env, napi_callback_info info) { return greeting(env); }
NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "hello", NAPI_AUTO_LENGTH, hello, NULL, &fn);
  return fn;
}
`,
};

let app: GitRepo;
const scratch: string[] = [];

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

function npm(cwd: string, ...args: string[]): void {
  execFileSync('npm', args, { cwd, env: { ...process.env, ...npmEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
}

before(() => {
  const source = tempDir('pif-addon-');
  for (const [name, text] of Object.entries(addon)) {
    mkdirSync(path.dirname(path.join(source, name)), { recursive: true });
    writeFileSync(path.join(source, name), text);
  }
  app = createGitRepo('pif-native-');
  npm(source, 'pack', '--silent', '--pack-destination', app.dir);
  const pkg = {
    name: 'native-app',
    version: '1.0.0',
    private: true,
    dependencies: { 'hello-addon': 'file:hello-addon-1.0.0.tgz' },
  };
  writeFileSync(path.join(app.dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  npm(app.dir, 'install', '--package-lock-only', '--no-fund');
  app.commit('native app', { '.gitignore': 'node_modules/\n.pier/\n' });
});

after(() => {
  app?.cleanup();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** Clones the app to `dir`, releases v1 there, and returns the artifact's path. */
async function releaseFrom(dir: string): Promise<{ sha256: string; artifact: string }> {
  execFileSync('git', ['clone', '-q', app.dir, dir]);
  configureIdentity(dir);
  const made = await pier(dir, ['release', 'v1', '--runtime', 'host'], { env: npmEnv });
  assert.equal(made.code, 0, made.stderr);
  const sha256 = /^sha256 ([0-9a-f]{64})$/m.exec(made.stdout)?.[1] as string;
  return { sha256, artifact: path.join(dir, '.pier', 'artifacts', `${sha256}.tar.gz`) };
}

test('two clones at different paths release the same bytes, holding only the loadable module', {
  timeout: 120_000,
}, async () => {
  const one = await releaseFrom(path.join(tempDir('pif-clone-'), 'app'));
  const two = await releaseFrom(path.join(tempDir('pif-clone-elsewhere-'), 'deeper', 'app'));
  assert.equal(two.sha256, one.sha256, 'same tag, same SHA-256, whichever clone built it');

  const listing = execFileSync('tar', ['-tzf', one.artifact], { encoding: 'utf8' }).split('\n');
  assert.ok(listing.includes(addonModule), `the compiled addon is in the artifact:\n${listing.join('\n')}`);
  const buildFiles = listing.filter((entry) =>
    /\/build\/(.*\/)?(Makefile|config\.gypi|[^/]*\.mk|\.deps|obj\.target|[^/]*\.o)(\/|$)/.test(entry),
  );
  assert.deepEqual(buildFiles, [], 'no node-gyp build files');
  const module = execFileSync('tar', ['-xzOf', one.artifact, addonModule]);
  assert.equal(module.includes('pier-build-'), false, 'the module does not name the build directory');

  const unpacked = tempDir('pif-unpacked-');
  execFileSync('tar', ['-xzf', one.artifact, '-C', unpacked]);
  const said = execFileSync(process.execPath, ['-e', "console.log(require('hello-addon')())"], {
    cwd: unpacked,
    encoding: 'utf8',
  });
  assert.equal(said, 'hello from C\n', 'the trimmed addon still loads');
});
