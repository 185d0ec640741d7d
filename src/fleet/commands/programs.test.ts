// The small programs a step runs in its own shell instead of starting a process, run by the real
// /bin/sh: what they print and exit with is what the controller decides on.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { readCurrent, versionOfLink } from './activate.js';
import { layoutOf } from './layout.js';
import { asRoot } from './privilege.js';
import { withinKeep } from './retention.js';
import { appRunning, pidFile, type ServiceSpec, startService } from './service.js';
import { deployToItem } from './setup.js';
import { all, branch, each, program, render, type Script } from './shell.js';
import { pullArtifact, type RelayAddress, stagedSha } from './stage.js';

function sh(script: Script): { code: number | null; stdout: string } {
  const run = spawnSync('/bin/sh', ['-c', render(script)], { encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout };
}

test('a program gets its arguments as $1.., and its exit leaves only its own subshell', () => {
  const echo = program('printf "%s|" "$@"; exit 3', ['a b', "it's", '-n', '$HOME']);
  const result = sh(each(echo, ['echo', 'after']));
  assert.equal(result.stdout, "a b|it's|-n|$HOME|after\n");
  assert.equal(result.code, 0);
  assert.equal(sh(echo).code, 3);
  // Variables a program sets stay in it.
  assert.equal(sh(each(program('x=inside'), program(`printf "[%s]" "\${x-unset}"`))).stdout, '[unset]');
});

test('branch runs one side only, and a failing `then` does not run `else`', () => {
  assert.equal(sh(branch(['true'], ['echo', 'yes'], ['echo', 'no'])).stdout, 'yes\n');
  assert.equal(sh(branch(['false'], ['echo', 'yes'], ['echo', 'no'])).stdout, 'no\n');
  const failing = sh(branch(['true'], all(['echo', 'then'], ['false']), ['echo', 'else']));
  assert.equal(failing.stdout, 'then\n');
  assert.equal(failing.code, 1);
});

test('withinKeep counts release directories, not files or hidden ones', (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pier-keep-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const layout = layoutOf(root);
  assert.equal(sh(withinKeep(layout, 2)).code, 0, 'no releases directory yet');
  mkdirSync(layout.releases);
  for (const name of ['v1', 'v2', '.partial-v3']) mkdirSync(path.join(layout.releases, name));
  writeFileSync(path.join(layout.releases, '.incoming-abc.tar.gz'), '');
  assert.equal(sh(withinKeep(layout, 2)).code, 0);
  mkdirSync(path.join(layout.releases, 'v 3'));
  assert.equal(sh(withinKeep(layout, 2)).code, 1);
  assert.equal(sh(withinKeep(layout, 3)).code, 0);
});

test('stagedSha prints the marker of a staged release, nothing otherwise', (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pier-marker-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const layout = layoutOf(root);
  assert.deepEqual(sh(stagedSha(layout, 'v1')), { code: 0, stdout: '' });
  mkdirSync(layout.release('v1'), { recursive: true });
  writeFileSync(layout.marker('v1'), 'f00d\n');
  assert.deepEqual(sh(stagedSha(layout, 'v1')), { code: 0, stdout: 'f00d\n' });
});

test('appRunning: 0 while the pidfile names a live process, 1 once it exited or is a zombie, 3 without a pid', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pier-running-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const layout = layoutOf(root);
  mkdirSync(layout.shared, { recursive: true });
  const spec: ServiceSpec = { manager: 'none', name: 'hello', action: 'restart', env: {}, stop_timeout: 500 };
  const check = () => sh(appRunning(layout, spec)).code;
  assert.equal(check(), 3, 'no pidfile');
  writeFileSync(pidFile(layout, spec), 'garbage\n');
  assert.equal(check(), 3);
  // The app, under a parent that never waits for it (`exec sleep`): once killed it is a zombie.
  const parent = spawn('/bin/sh', ['-c', 'sleep 1000 & echo $!; exec sleep 1000'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  t.after(() => parent.kill('SIGKILL'));
  const app = Number(
    await new Promise<string>((resolve) => parent.stdout.once('data', String).once('data', resolve)),
  );
  writeFileSync(pidFile(layout, spec), `${app}\n`);
  assert.equal(check(), 0);
  process.kill(app, 'SIGKILL');
  while (!/\) Z /.test(readFileSync(`/proc/${app}/stat`, 'utf8')))
    await new Promise((r) => setTimeout(r, 10));
  assert.equal(check(), 1, 'a zombie has exited');
  writeFileSync(pidFile(layout, spec), '999999999\n');
  assert.equal(check(), 1, 'a pid nobody has');
});

test('startService (none): the command runs from current in its own session, its pid in the pidfile, its output in the log', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pier-start-'));
  const layout = layoutOf(root);
  mkdirSync(layout.release('v1'), { recursive: true });
  mkdirSync(layout.log, { recursive: true });
  symlinkSync('releases/v1', layout.current);
  // The release's environment file, as a deploy writes it (environment.ts): loaded by the job's
  // shell, so the value reaches the command without being in any argv.
  writeFileSync(path.join(layout.release('v1'), '.pier-env'), "GREETING='hi there'\n");
  const spec: ServiceSpec = {
    manager: 'none',
    name: 'hello',
    action: 'restart',
    command: ['/bin/sh', '-c', 'echo "started: $GREETING in $(pwd -P)"; echo oops >&2; exec sleep 1000'],
    env: { GREETING: 'set' },
    stop_timeout: 500,
  };
  const started = spawnSync('/bin/sh', ['-c', render(startService(layout, spec))], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 5000,
  });
  // The step returns at once (the job holds none of the step's pipes, or this would time out).
  assert.equal(started.status, 0, started.stderr);
  const pid = Number(readFileSync(pidFile(layout, spec), 'utf8'));
  t.after(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {}
    rmSync(root, { recursive: true, force: true });
  });
  const log = path.join(layout.log, 'hello.log');
  while (!readFileSync(log, 'utf8').includes('oops')) await new Promise((r) => setTimeout(r, 10));
  assert.equal(readFileSync(log, 'utf8'), `started: hi there in ${layout.release('v1')}\noops\n`);
  // The pidfile's process is the command itself, leading its own session and process group.
  const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] as string).split(' ');
  assert.equal(readFileSync(`/proc/${pid}/comm`, 'utf8'), 'sleep\n');
  assert.equal(Number(fields[2]), pid, 'process group');
  assert.equal(Number(fields[3]), pid, 'session');
  assert.equal(readlinkSync(`/proc/${pid}/fd/0`), '/dev/null');
  // While it runs, a second start starts nothing and says why.
  const again = spawnSync('/bin/sh', ['-c', render(startService(layout, spec))], { encoding: 'utf8' });
  assert.equal(again.status, 1);
  assert.match(again.stderr, new RegExp(`already running: pid ${pid}`));
  // A log that cannot be written: nothing starts, and the step fails.
  process.kill(-pid, 'SIGKILL');
  rmSync(pidFile(layout, spec));
  rmSync(layout.log, { recursive: true });
  const unwritable = spawnSync('/bin/sh', ['-c', render(startService(layout, spec))], { encoding: 'utf8' });
  assert.equal(unwritable.status, 1);
  assert.match(unwritable.stderr, /hello\.log/);
  assert.equal(existsSync(pidFile(layout, spec)), false);
});

test('pullArtifact: the body whole from a relay that answers 200; a refused relay or another status fails', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pier-pull-'));
  const layout = layoutOf(root);
  mkdirSync(layout.releases, { recursive: true });
  // Bytes a line-wise reader would mangle: NULs, CRLFs, no final newline.
  const body = Buffer.concat([randomBytes(70_000), Buffer.from('\r\n\r\n\0\0end')]);
  const sha = createHash('sha256').update(body).digest('hex');
  const server = createServer((req, res) => {
    if (req.url !== `/${sha}`) {
      res.writeHead(404).end('no such artifact\n');
      return;
    }
    res.writeHead(200, { 'content-length': body.length, 'x-long': 'x'.repeat(5000) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.close();
    rmSync(root, { recursive: true, force: true });
  });
  const port = (server.address() as { port: number }).port;
  const pull = (address: RelayAddress, name = sha) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn('/bin/sh', ['-c', render(pullArtifact(layout, name, address, 10))], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      child.on('close', (code) => resolve({ code, stderr }));
    });
  assert.deepEqual(await pull({ address: '127.0.0.1', port }), { code: 0, stderr: '' });
  assert.ok(readFileSync(layout.incoming(sha)).equals(body));
  const missing = await pull({ address: '127.0.0.1', port }, 'f'.repeat(64));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /the relay at 127\.0\.0\.1 port \d+ answered: HTTP\/1\.1 404 Not Found$/m);
  server.close();
  const refused = await pull({ address: '127.0.0.1', port });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /Connection refused/);
});

test('readCurrent prints the release directory current leads to, nothing without one', (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pier-current-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  // deploy_to itself behind a symlink, as /opt/app → /srv/app: the release's name is what counts.
  const real = path.join(root, 'srv');
  const layout = layoutOf(path.join(root, 'opt'));
  symlinkSync(real, path.join(root, 'opt'));
  mkdirSync(path.join(real, 'releases', 'v1'), { recursive: true });
  assert.deepEqual(sh(readCurrent(layout)), { code: 0, stdout: '' });
  symlinkSync('releases/v1', layout.current);
  const printed = sh(readCurrent(layout));
  assert.deepEqual(printed, { code: 0, stdout: `${path.join(real, 'releases', 'v1')}\n` });
  assert.equal(versionOfLink(printed.stdout), 'v1');
  // A current whose release was removed by hand leads nowhere.
  rmSync(path.join(real, 'releases', 'v1'), { recursive: true });
  assert.deepEqual(sh(readCurrent(layout)), { code: 0, stdout: '' });
});

test('setup --check: deploy_to is ready only when the login user can write every directory a deploy writes in', (t) => {
  // As a deploy user would run it: the probe under the uid of nobody, not root.
  assert.equal(process.getuid?.(), 0, 'this test runs the probe as nobody: it needs root');
  const base = mkdtempSync(path.join(os.tmpdir(), 'pier-deploy-to-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  chmodSync(base, 0o755);
  const layout = layoutOf(path.join(base, 'app'));
  for (const dir of [layout.root, layout.releases, layout.shared, layout.log])
    mkdirSync(dir, { recursive: true });
  for (const dir of [layout.root, layout.shared, layout.log]) chownSync(dir, 65534, 65534);
  const item = deployToItem(layout, 'nobody', asRoot(false));
  const probe = () =>
    spawnSync('setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      '/bin/sh',
      '-c',
      render(item.probe),
    ]).status;
  // releases/ left to root (a copy made by hand): the first stage would fail there.
  assert.equal(probe(), 1);
  chownSync(layout.releases, 65534, 65534);
  assert.equal(probe(), 0);
});
