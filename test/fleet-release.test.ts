// pier release / releases on a real git repository: refusals, the artifact built from the tag
// (not the working tree), byte-for-byte reproducible, named by its SHA-256, and --push.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { buildArtifact } from '../src/fleet/release/artifact.js';
import { ReleaseStore } from '../src/fleet/release/store.js';
import { type AppRepo, createAppRepo } from './helpers/fleet-app.js';
import { pier } from './helpers/fleet-cli.js';
import { pierBin } from './helpers/paths.js';

let app: AppRepo;
let remote: string;

before(() => {
  app = createAppRepo();
  remote = mkdtempSync(path.join(tmpdir(), 'pif-remote-'));
  execFileSync('git', ['init', '-q', '--bare', remote]);
  app.git('remote', 'add', 'origin', remote);
});

after(() => {
  app?.cleanup();
  rmSync(remote, { recursive: true, force: true });
});

test('release refuses a dirty tree, then tags and builds from the tag', { timeout: 60_000 }, async () => {
  app.commit('v1');
  writeFileSync(path.join(app.dir, 'server.mjs'), '// uncommitted\n', { flag: 'a' });
  const dirty = await pier(app.dir, ['release', 'v1']);
  assert.equal(dirty.code, 1);
  assert.match(
    dirty.stderr,
    /^error\[FLEET_DIRTY_TREE\]: the working tree has uncommitted changes: M server\.mjs/,
  );
  assert.equal(app.git('tag', '--list'), '');
  app.git('checkout', '--', 'server.mjs');

  const made = await pier(app.dir, ['release', 'v1', '--push']);
  assert.equal(made.code, 0, made.stderr);
  const sha = /^sha256 ([0-9a-f]{64})$/m.exec(made.stdout)?.[1] as string;
  const file = path.join(app.dir, '.pier', 'artifacts', `${sha}.tar.gz`);
  assert.equal(createHash('sha256').update(readFileSync(file)).digest('hex'), sha, 'named by its SHA-256');
  assert.match(app.git('cat-file', '-t', 'v1'), /^tag/, 'an annotated tag');
  assert.match(
    execFileSync('git', ['--git-dir', remote, 'tag', '--list'], { encoding: 'utf8' }),
    /^v1$/m,
    'pushed',
  );
  const listing = execFileSync('tar', ['-tzvf', file], { encoding: 'utf8' });
  assert.match(listing, /0\/0 .* \.\/dist\/app\.mjs/, 'built output, owned by 0/0');
  assert.match(listing, / \.\/REVISION\n/);
  assert.doesNotMatch(listing, /\.git\//);

  const again = await pier(app.dir, ['release', 'v1']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^error\[FLEET_TAG_EXISTS\]: tag v1 already exists/);
});

test('the same tag builds the same bytes, whatever the working tree holds now', {
  timeout: 60_000,
}, async () => {
  const store = new ReleaseStore(app.dir);
  const first = await store.readManifest('v1');
  app.commit('v2');
  const other = mkdtempSync(path.join(tmpdir(), 'pif-store-'));
  try {
    const rebuilt = await buildArtifact({
      repo: app.dir,
      version: 'v1',
      store: new ReleaseStore(other),
      runtime: 'host',
    });
    assert.equal(rebuilt.sha256, first?.sha256);
    assert.deepEqual(
      readFileSync(path.join(other, '.pier', rebuilt.artifact)),
      readFileSync(path.join(app.dir, '.pier', first?.artifact as string)),
    );
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
  const contents = execFileSync(
    'tar',
    ['-xzOf', path.join(app.dir, '.pier', first?.artifact as string), './dist/version.mjs'],
    {
      encoding: 'utf8',
    },
  );
  assert.match(contents, /version = "v1"/, 'from the tag, not the v2 working tree');
});

test('releases lists tags with their artifacts', { timeout: 30_000 }, async () => {
  const list = await pier(app.dir, ['releases']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^version +date +commit +sha256 +bytes$/m);
  assert.match(list.stdout, /^v1 +\S+ +[0-9a-f]{12} +[0-9a-f]{16} +\d+$/m);
  const json = JSON.parse((await pier(app.dir, ['releases', '--json'])).stdout);
  assert.equal(json[0].version, 'v1');
});

test('pier’s own .pier/ never blocks a release, in a repository that does not ignore it', {
  timeout: 60_000,
}, async () => {
  // A repository whose .gitignore says nothing of .pier/, as an app's does before pier.
  writeFileSync(path.join(app.dir, '.gitignore'), 'node_modules/\ndist/\ndeploy/fleet*.yml\n');
  app.commit('v2');
  const made = await pier(app.dir, ['release', 'v2']);
  assert.equal(made.code, 0, made.stderr);
  // The store ignores itself: git sees nothing to commit.
  assert.equal(app.git('status', '--porcelain'), '');
  // A store made before it had that .gitignore does not block the next release either.
  rmSync(path.join(app.dir, '.pier', '.gitignore'));
  assert.match(app.git('status', '--porcelain'), /^\?\? \.pier\/$/m);
  // Committed by hand: `git add -A` would take .pier/ in now.
  writeFileSync(
    path.join(app.dir, 'src', 'version.mjs'),
    'export const version = "v3";\nexport const healthy = true;\n',
  );
  app.git('commit', '-q', '-m', 'app v3', '--', 'src/version.mjs');
  const next = await pier(app.dir, ['release', 'v3']);
  assert.equal(next.code, 0, next.stderr);
  assert.equal(app.git('status', '--porcelain'), '', 'the .gitignore is written again');
});

test('Ctrl-C during a release stops the build, removes the tag and the build directory: the same command works again', {
  timeout: 90_000,
}, async () => {
  // A build that takes its time, interrupted in the middle.
  const pkg = JSON.parse(readFileSync(path.join(app.dir, 'package.json'), 'utf8'));
  const slowBuild = { ...pkg, scripts: { ...pkg.scripts, build: 'node build.mjs && sleep 37' } };
  writeFileSync(path.join(app.dir, 'package.json'), `${JSON.stringify(slowBuild, null, 2)}\n`);
  app.git('commit', '-q', '-am', 'a slow build');
  const child = spawn(process.execPath, [pierBin, 'release', 'v9'], {
    cwd: app.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('npm run build')) resolve();
    });
  });
  // The build's `sleep` runs: SIGINT to pier alone (as `kill -INT`; a terminal signals npm too).
  const sleeping = () =>
    readdirSync('/proc')
      .filter((pid) => /^\d+$/.test(pid))
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() === 'sleep 37';
        } catch {
          return false;
        }
      });
  for (let waited = 0; sleeping().length === 0 && waited < 20_000; waited += 100)
    await new Promise((resolve) => setTimeout(resolve, 100));
  child.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted: stopping the build, then removing the tag v9 it made \(SIGINT/);
  assert.match(stderr, /^error\[INTERRUPTED\]: interrupted by SIGINT$/m);
  assert.doesNotMatch(app.git('tag', '--list'), /^v9$/m, 'the tag is gone');
  const build = /from the tag in (\S+)\/app/.exec(stderr)?.[1] as string;
  assert.equal(existsSync(build), false, 'the build directory is gone');
  assert.deepEqual(sleeping(), [], "the build's programs are ended");

  // Fixed, the same command works.
  writeFileSync(path.join(app.dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  app.git('commit', '-q', '-am', 'a quick build again');
  const again = await pier(app.dir, ['release', 'v9']);
  assert.equal(again.code, 0, again.stderr);
});

test('Ctrl-C while the artifact is packed ends tar and gzip, removes the tag and the build directory: no release', {
  timeout: 90_000,
}, async () => {
  // A bundled runtime puts the ~100 MB Node binary into the artifact: gzip -9 takes seconds.
  const child = spawn(process.execPath, [pierBin, 'release', 'v10', '--runtime', 'bundled'], {
    cwd: app.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  // pier's own gzip child, found through /proc: the pack step is running.
  const gzipOfPier = (): string | undefined =>
    readdirSync('/proc')
      .filter((pid) => /^\d+$/.test(pid))
      .find((pid) => {
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
          const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
          return ppid === String(child.pid) && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'gzip';
        } catch {
          return false;
        }
      });
  let gzip: string | undefined;
  for (let waited = 0; gzip === undefined && child.exitCode === null && waited < 60_000; waited += 20) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    gzip = gzipOfPier();
  }
  assert.ok(gzip, `gzip never ran: ${stderr}`);
  child.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 130, `${stderr}\n${stdout}`);
  assert.match(stderr, /^packing the artifact/m);
  assert.match(stderr, /interrupted: stopping the build, then removing the tag v10 it made \(SIGINT/);
  assert.match(stderr, /^error\[INTERRUPTED\]: interrupted by SIGINT$/m);
  assert.doesNotMatch(stdout, /released/);
  assert.doesNotMatch(app.git('tag', '--list'), /^v10$/m, 'the tag is gone');
  assert.equal(existsSync(path.join(app.dir, '.pier', 'releases', 'v10.json')), false, 'no manifest');
  const build = /from the tag in (\S+)\/app/.exec(stderr)?.[1] as string;
  assert.equal(existsSync(build), false, 'the build directory is gone');
  assert.equal(existsSync(`/proc/${gzip}`), false, 'gzip was ended');
});
