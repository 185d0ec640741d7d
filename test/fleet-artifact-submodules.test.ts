// pier release of an app whose vendored code comes from git submodules, nested two deep: the
// artifact holds their files at the commits the tag records (not what is checked out now), the
// same tag builds the same bytes again, and a clone whose submodules were never initialised is
// refused with the fix instead of shipping an empty directory.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { buildArtifact } from '../src/fleet/release/artifact.js';
import { ReleaseStore } from '../src/fleet/release/store.js';
import { type AppRepo, createAppRepo } from './helpers/fleet-app.js';
import { pier } from './helpers/fleet-cli.js';
import { configureIdentity, createGitRepo, fileProtocol, type GitRepo, gitIn } from './helpers/git-repo.js';

let words: GitRepo;
let greet: GitRepo;
let app: AppRepo;
const scratch: string[] = [];

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

/** What the app's code gets from vendor/greet when run from the unpacked artifact. */
function runGreet(artifact: string): string {
  const unpacked = tempDir('pif-unpacked-');
  execFileSync('tar', ['-xzf', artifact, '-C', unpacked]);
  const script = "import { greet } from './vendor/greet/greet.mjs'; console.log(greet());";
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: unpacked,
    encoding: 'utf8',
  }).trim();
}

before(() => {
  words = createGitRepo('pif-words-');
  words.commit('words', { 'words.mjs': "export const who = 'fleet';\n" });
  greet = createGitRepo('pif-greet-');
  greet.git(...fileProtocol, 'submodule', 'add', '-q', words.dir, 'words');
  greet.commit('greet 1', {
    'greet.mjs':
      "import { who } from './words/words.mjs';\nexport const greet = () => 'Hello, ' + who + '!';\n",
  });
  app = createAppRepo();
  app.git(...fileProtocol, 'submodule', 'add', '-q', greet.dir, 'vendor/greet');
  app.git(...fileProtocol, 'submodule', 'update', '-q', '--init', '--recursive');
  app.commit('v1');
});

after(() => {
  for (const repo of [words, greet, app]) repo?.cleanup();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

test('the artifact holds the submodules (nested too) at the commits the tag records', {
  timeout: 60_000,
}, async () => {
  const made = await pier(app.dir, ['release', 'v1', '--runtime', 'host']);
  assert.equal(made.code, 0, made.stderr);
  const manifest = await new ReleaseStore(app.dir).readManifest('v1');
  const artifact = path.join(app.dir, '.pier', manifest?.artifact as string);
  const listing = execFileSync('tar', ['-tzf', artifact], { encoding: 'utf8' }).split('\n');
  assert.ok(listing.includes('./vendor/greet/greet.mjs'), 'the submodule file is in the artifact');
  assert.ok(listing.includes('./vendor/greet/words/words.mjs'), 'the nested submodule file too');
  assert.equal(
    listing.filter((entry) => /(^|\/)\.git(\/|$)/.test(entry)).length,
    0,
    'no .git files or directories',
  );
  assert.equal(runGreet(artifact), 'Hello, fleet!', 'the app imports its vendored code from the artifact');
});

test('the same tag builds the same bytes after the submodule moved on', { timeout: 60_000 }, async () => {
  const first = await new ReleaseStore(app.dir).readManifest('v1');
  greet.commit('greet 2', {
    'greet.mjs': "import { who } from './words/words.mjs';\nexport const greet = () => 'Hi, ' + who + '!';\n",
  });
  app.git(...fileProtocol, 'submodule', 'update', '-q', '--remote', 'vendor/greet');
  app.commit('v2');
  assert.equal(
    gitIn(path.join(app.dir, 'vendor/greet'), 'log', '-1', '--format=%s'),
    'greet 2\n',
    'the working tree has the newer submodule commit checked out',
  );

  const other = tempDir('pif-store-');
  const rebuilt = await buildArtifact({
    repo: app.dir,
    version: 'v1',
    store: new ReleaseStore(other),
    runtime: 'host',
  });
  assert.equal(rebuilt.sha256, first?.sha256, 'same tag, same SHA-256');
  assert.equal(
    runGreet(path.join(other, '.pier', rebuilt.artifact)),
    'Hello, fleet!',
    'greet as tagged in v1',
  );

  const v2 = await pier(app.dir, ['release', 'v2', '--runtime', 'host']);
  assert.equal(v2.code, 0, v2.stderr);
  const second = await new ReleaseStore(app.dir).readManifest('v2');
  assert.equal(runGreet(path.join(app.dir, '.pier', second?.artifact as string)), 'Hi, fleet!');
});

test('a clone with submodules not initialised is refused, naming the submodule and the fix', {
  timeout: 60_000,
}, async () => {
  const clone = path.join(tempDir('pif-clone-'), 'app');
  execFileSync('git', ['clone', '-q', app.dir, clone]);
  configureIdentity(clone);

  const bare = await pier(clone, ['release', 'v3', '--runtime', 'host']);
  assert.equal(bare.code, 1);
  assert.match(
    bare.stderr,
    /^error\[FLEET_SUBMODULE_MISSING\]: submodule vendor\/greet: it is not initialised in this clone \(v3 records commit [0-9a-f]{12}\)\n {2}hint: run `git submodule update --init --recursive`, then run the command again/m,
  );
  assert.equal(gitIn(clone, 'tag', '--list', 'v3'), '', 'the tag made for the failed build is gone');

  gitIn(clone, ...fileProtocol, 'submodule', 'update', '-q', '--init');
  const shallow = await pier(clone, ['release', 'v3', '--runtime', 'host']);
  assert.equal(shallow.code, 1);
  assert.match(
    shallow.stderr,
    /^error\[FLEET_SUBMODULE_MISSING\]: submodule vendor\/greet\/words: it is not/m,
  );

  gitIn(clone, ...fileProtocol, 'submodule', 'update', '-q', '--init', '--recursive');
  const made = await pier(clone, ['release', 'v3', '--runtime', 'host']);
  assert.equal(made.code, 0, made.stderr);
});
