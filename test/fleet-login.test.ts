// Hosts whose login environment is not a quiet Bourne shell, and a host whose Node cannot run
// the release (runtime: host), on real namespace hosts with real sshd:
//   ams-1: bash whose ~/.bashrc greets on stdout and stderr (pier must not read the greeting
//          as data: it once took "Welcome" for another artifact's checksum);
//   ams-2: root's login shell is fish, whose config also greets (pier's `{ …; } || true` once
//          failed to parse there, so a deploy said "done" and left its lock behind);
//   ams-3: a `node` first on PATH that reports another ABI. It is a stand-in (a shell script
//          printing what Node 18 prints), because a second Node build cannot be installed here.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type AppRepo, createAppRepo } from './helpers/fleet-app.js';
import { fetchText, pier } from './helpers/fleet-cli.js';
import { createTestFleet, type TestFleet } from './helpers/fleet-hosts.js';

let fleet: TestFleet;
let app: AppRepo;
let fakeBin: string;

before(async () => {
  fakeBin = mkdtempSync(path.join(tmpdir(), 'pif-node18-'));
  writeFileSync(path.join(fakeBin, 'node'), '#!/bin/sh\necho v18.20.4\n', { mode: 0o755 });
  fleet = await createTestFleet(
    { ams: 3 },
    { loginShell: { 'ams-2': '/usr/bin/fish' }, localBin: { 'ams-3': fakeBin } },
  );
  writeFileSync(
    path.join(fleet.host('ams-1').dir, 'root', '.bashrc'),
    'echo "Welcome to h1"\necho "motd noise" >&2\n',
  );
  const fishConfig = path.join(fleet.host('ams-2').dir, 'root', '.config', 'fish');
  mkdirSync(fishConfig, { recursive: true });
  writeFileSync(path.join(fishConfig, 'config.fish'), 'echo "Welcome to fish"\n');
  app = createAppRepo();
  writeFileSync(
    path.join(app.dir, 'deploy', 'fleet.yml'),
    fleet.fleetYaml({ rollout: { canary: 1, window: 2, failure_budget: 1 } }),
  );
});

after(async () => {
  await fleet?.cleanup();
  app?.cleanup();
  if (fakeBin) rmSync(fakeBin, { recursive: true, force: true });
});

test('chatty and non-POSIX login shells deploy like any host; a Node of another ABI fails before activation', {
  timeout: 120_000,
}, async () => {
  for (const version of ['v1', 'v2']) {
    app.commit(version);
    assert.equal((await pier(app.dir, ['release', version])).code, 0);
  }
  const first = await pier(app.dir, ['deploy', 'v1']);
  assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
  assert.match(first.stdout, /done, 2\/3 hosts healthy/);
  for (const name of ['ams-1', 'ams-2']) {
    assert.equal(await fetchText(`http://${fleet.host(name).address}:8080/`), 'Hello! from v1');
  }
  // Both versions named, and the host never switched.
  assert.match(
    first.stdout,
    /the host's Node v18\.20\.4 \(linux-x64\) cannot load this release's native addons, built with Node v\d+\.\d+\.\d+ \(ABI \d+, linux-x64\)/,
  );
  assert.equal(fleet.exec('ams-3', ['sh', '-c', 'readlink /opt/hello/current || echo none']).trim(), 'none');
  // No lock stayed behind, on the fish host either: the next deploy is not refused.
  for (const host of fleet.hosts) {
    assert.equal(
      fleet.exec(host.name, ['sh', '-c', 'test -e /opt/hello/.pier-lock && echo held || echo free']).trim(),
      'free',
    );
  }
  const status = await pier(app.dir, ['status', '--json']);
  const hosts = JSON.parse(status.stdout).hosts as Array<{ name: string; current?: string }>;
  assert.deepEqual(
    hosts.filter((h) => h.name !== 'ams-3').map((h) => [h.name, h.current]),
    [
      ['ams-1', 'v1'],
      ['ams-2', 'v1'],
    ],
  );
  const second = await pier(app.dir, ['deploy', 'v2', '--hosts', 'ams-1,ams-2']);
  assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
  assert.equal(await fetchText(`http://${fleet.host('ams-2').address}:8080/`), 'Hello! from v2');
  const revisions = readFileSync(
    path.join(fleet.host('ams-1').opt as string, 'hello', 'revisions.log'),
    'utf8',
  );
  assert.match(revisions, /version=v2 previous=v1 result=healthy/);
});
