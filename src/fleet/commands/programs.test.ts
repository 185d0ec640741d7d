// The small programs a step runs in its own shell instead of starting a process, run by the real
// /bin/sh: what they print and exit with is what the controller decides on.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { layoutOf } from './layout.js';
import { withinKeep } from './retention.js';
import { appRunning, pidFile, type ServiceSpec } from './service.js';
import { all, branch, each, program, render, type Script } from './shell.js';
import { stagedSha } from './stage.js';

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
