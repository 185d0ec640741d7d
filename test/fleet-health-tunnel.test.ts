// The health gate's http:// probes go through the host's SSH connection (direct-tcpip): the
// host's sshd connects to the URL as the host sees it (its own loopback here, which the
// controller cannot reach), and nothing runs on the host. Real namespace hosts with real sshd:
//   ams-1: no curl at all: healthy through the tunnel, bake included;
//   ams-2: sshd with AllowTcpForwarding no: the gate runs on the host with curl instead;
//   ams-3: both: neither way can probe, so the host fails its gate and is rolled back.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type AppRepo, createAppRepo } from './helpers/fleet-app.js';
import { fetchText, pier } from './helpers/fleet-cli.js';
import { createTestFleet, leftovers, type TestFleet } from './helpers/fleet-hosts.js';

let fleet: TestFleet;
let app: AppRepo;

before(async () => {
  fleet = await createTestFleet(
    { ams: 3 },
    {
      missing: { 'ams-1': ['/usr/bin/curl'], 'ams-3': ['/usr/bin/curl'] },
      sshdConfig: { 'ams-2': ['AllowTcpForwarding no'], 'ams-3': ['AllowTcpForwarding no'] },
    },
  );
  app = createAppRepo();
  writeFileSync(
    path.join(app.dir, 'deploy', 'fleet.yml'),
    fleet.fleetYaml({
      health: { timeout: '3s', bake: '600ms' },
      rollout: { canary: 1, window: 2, failure_budget: 1 },
    }),
  );
});

after(async () => {
  await fleet?.cleanup();
  app?.cleanup();
  if (fleet) assert.deepEqual(leftovers(fleet), []);
});

test('http health through the SSH connection; on the host with curl where sshd refuses forwarding', {
  timeout: 120_000,
}, async () => {
  app.commit('v1');
  assert.equal((await pier(app.dir, ['release', 'v1'])).code, 0);
  const plan = await pier(app.dir, ['deploy', '--dry-run', 'v1']);
  assert.match(
    plan.stdout,
    /health: {4}GET http:\/\/127\.0\.0\.1:8080\/health every 0\.1 s through the host's SSH connection/,
  );

  const deploy = await pier(app.dir, ['deploy', 'v1']);
  // ams-3 stays on the release that failed its gate (its first): left down, so exit 1.
  assert.equal(deploy.code, 1, `${deploy.stdout}\n${deploy.stderr}`);
  assert.match(
    deploy.stdout,
    /^deploy v1: 2\/3 hosts healthy, but 1 host is left with no healthy release \(ams-3\)$/m,
  );
  for (const name of ['ams-1', 'ams-2']) {
    assert.equal(await fetchText(`http://${fleet.host(name).address}:8080/`), 'Hello! from v1', name);
  }
  // ams-3 could be probed neither way: its gate failed (a first deploy has nothing to return to).
  assert.match(
    deploy.stdout,
    /health check failed after 3 s: no HTTP answer from [^\n]*\(no previous release to return to\)/,
  );
  assert.match(deploy.stdout, /ams-3/);
  // ams-1 has no curl, so its healthy verdict came through the tunnel; ams-2's came from curl.
  const revisions = readFileSync(
    path.join(fleet.host('ams-2').opt as string, 'hello', 'revisions.log'),
    'utf8',
  );
  assert.match(revisions, /version=v1 .*result=healthy/);
});
