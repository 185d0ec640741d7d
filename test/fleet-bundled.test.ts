// runtime: bundled on namespace hosts with a relay: the release carries the Node that built it
// (about 30 MB more), the artifact still crosses from the controller once per data center (the
// relay serves it with the release's own Node), and the app runs on the bundled binary.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type AppRepo, createAppRepo } from './helpers/fleet-app.js';
import { fetchText, pier } from './helpers/fleet-cli.js';
import { createTestFleet, type TestFleet } from './helpers/fleet-hosts.js';

let fleet: TestFleet;
let app: AppRepo;

before(async () => {
  fleet = await createTestFleet({ ams: 3 });
  app = createAppRepo();
  writeFileSync(
    path.join(app.dir, 'deploy', 'fleet.yml'),
    fleet.fleetYaml({ runtime: 'bundled', rollout: { canary: 1, window: 2, distribution: 'relay' } }),
  );
});

after(async () => {
  await fleet?.cleanup();
  app?.cleanup();
});

test('a bundled runtime crosses once per data center and is what the app runs on', {
  timeout: 180_000,
}, async () => {
  app.commit('v1');
  const made = await pier(app.dir, ['release', 'v1'], { timeoutMs: 170_000 });
  assert.equal(made.code, 0, made.stderr);
  const size = Number(/artifact \S+ \((\d+) bytes\)/.exec(made.stderr)?.[1]);
  assert.ok(size > 10_000_000, `the artifact carries a Node binary (${size} bytes)`);
  const result = await pier(app.dir, ['deploy', 'v1'], { timeoutMs: 170_000 });
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  const report = JSON.parse(readFileSync(/report: (\S+)/.exec(result.stdout)?.[1] as string, 'utf8'));
  assert.equal(report.directUploads, 1, 'one upload from the controller for the data center');
  for (const host of fleet.hosts) {
    assert.equal(await fetchText(`http://${host.address}:8080/`), 'Hello! from v1');
    const pid = readFileSync(path.join(host.opt as string, 'hello', 'shared', 'hello.pid'), 'utf8').trim();
    const exe = fleet.exec(host.name, ['sh', '-c', `readlink /proc/${pid}/exe`]).trim();
    assert.equal(exe, '/opt/hello/releases/v1/.pier-runtime/bin/node');
  }
});
