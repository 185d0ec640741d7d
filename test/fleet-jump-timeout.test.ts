// ssh.connect_timeout through a jump host, on real hosts (network namespaces with sshd): sfo-1
// and sfo-2 are reached through ams-1, and ams-1 cannot reach sfo-2 — its frames to sfo-2 go to
// a link-layer address nobody has, so its connect() gets no answer at all and would retry SYNs
// for about two minutes. That host must fail within connect_timeout, the rest carry on.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Host } from '../src/fleet/inventory/inventory.js';
import { ConnectionPool } from '../src/fleet/ssh/connection-pool.js';
import { HostError } from '../src/fleet/ssh/errors.js';
import { parseKnownHosts } from '../src/fleet/ssh/known-hosts.js';
import { KnownHostsIndex } from '../src/fleet/ssh/known-hosts-index.js';
import { type AppRepo, createAppRepo } from './helpers/fleet-app.js';
import { pier } from './helpers/fleet-cli.js';
import { createTestFleet, leftovers, type TestFleet } from './helpers/fleet-hosts.js';

let fleet: TestFleet;
let app: AppRepo;
let jump: string;
let lost: string;

/** Sends ams-1's frames for sfo-2 to a link-layer address nobody has, or back to sfo-2's own. */
const blackHole = (on: boolean): void => {
  const mac = on ? '02:00:00:00:00:01' : fleet.exec('sfo-2', ['cat', '/sys/class/net/eth0/address']).trim();
  // `replace`, never `del`: deleting the entry would fail ams-1's pending connect() at once.
  fleet.exec('ams-1', ['ip', 'neigh', 'replace', lost, 'lladdr', mac, 'dev', 'eth0', 'nud', 'permanent']);
};

/** ams-1's TCP connections to sfo-2's sshd in `state` (a channel through the jump holds one). */
const tunnelsToLost = (state: string): string =>
  fleet.exec('ams-1', ['ss', '-Htn', 'state', state, 'dst', `${lost}:22`]).trim();

before(async () => {
  fleet = await createTestFleet({ ams: 1, sfo: 2 });
  app = createAppRepo();
  jump = fleet.host('ams-1').address;
  lost = fleet.host('sfo-2').address;
  writeFileSync(
    path.join(app.dir, 'deploy', 'fleet.yml'),
    fleet.fleetYaml({
      ssh: { connect_timeout: '2s' },
      rollout: { failure_budget: 1, canary: 0, window: 3 },
      dcVars: { sfo: { proxy_jump: `root@${jump}` } },
    }),
  );
  blackHole(true);
});

after(async () => {
  await fleet?.cleanup();
  app?.cleanup();
  if (fleet) assert.deepEqual(leftovers(fleet), []);
});

test('status: a host the jump host cannot reach fails within connect_timeout', {
  timeout: 60_000,
}, async () => {
  const started = Date.now();
  const result = await pier(app.dir, ['status'], { timeoutMs: 40_000 });
  const seconds = (Date.now() - started) / 1000;
  assert.ok(seconds < 20, `pier status took ${seconds.toFixed(1)} s with connect_timeout 2s`);
  assert.match(
    result.stdout,
    new RegExp(`^sfo-2 +sfo +unreachable +- +timed out after 2 s connecting through jump host ${jump}$`, 'm'),
    result.stdout + result.stderr,
  );
  assert.match(result.stdout, /^sfo-1 +sfo +\(none\)/m);
  assert.match(result.stdout, /^ams-1 +ams +\(none\)/m);
  assert.equal(result.code, 1, 'a host that could not be asked is not a clean answer');
  // The summary (the default past 50 hosts) gives the cause too, once per cause.
  const summary = await pier(app.dir, ['status', '--summary'], { timeoutMs: 40_000 });
  assert.equal(summary.code, 1);
  assert.ok(
    summary.stdout.includes(
      `unreachable:\n  1 host: timed out after 2 s connecting through jump host ${jump}\n    sfo-2\n`,
    ),
    summary.stdout,
  );
});

test('deploy: that host fails with FLEET_SSH_JUMP, the others are deployed', {
  timeout: 90_000,
}, async () => {
  app.commit('v1');
  assert.equal((await pier(app.dir, ['release', 'v1'])).code, 0);
  const started = Date.now();
  const result = await pier(app.dir, ['deploy', 'v1'], { timeoutMs: 60_000 });
  const seconds = (Date.now() - started) / 1000;
  assert.ok(seconds < 30, `pier deploy took ${seconds.toFixed(1)} s`);
  const report = JSON.parse(readFileSync(/report: (\S+)/.exec(result.stdout)?.[1] as string, 'utf8'));
  const byName = new Map(report.hosts.map((h: { name: string }) => [h.name, h]));
  assert.equal((byName.get('sfo-2') as { code: string }).code, 'FLEET_SSH_JUMP', result.stdout);
  assert.equal((byName.get('sfo-1') as { state: string }).state, 'healthy', result.stdout);
  assert.equal((byName.get('ams-1') as { state: string }).state, 'healthy', result.stdout);
});

test('a channel the jump host opens after the timeout is closed at once', { timeout: 60_000 }, async () => {
  const host = (name: string): Host => ({
    name,
    dc: fleet.host(name).dc,
    address: fleet.host(name).address,
    internalAddress: fleet.host(name).address,
    port: 22,
    user: 'root',
    deployTo: '/opt/hello',
    proxyJump: { user: 'root', host: jump, port: 22 },
    sudo: false,
  });
  const pool = new ConnectionPool({
    user: 'root',
    privateKey: readFileSync(fleet.identity),
    agent: undefined,
    knownHosts: new KnownHostsIndex(parseKnownHosts(readFileSync(fleet.knownHosts, 'utf8'))),
    knownHostsFile: fleet.knownHosts,
    strictHostKeys: true,
    connectTimeoutMs: 2000,
    commandTimeoutMs: 10_000,
    handshakeConcurrency: 4,
    maxOpen: 16,
  });
  try {
    const failed = await pool.connection(host('sfo-2')).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(failed instanceof HostError);
    assert.equal(failed.code, 'FLEET_SSH_JUMP');
    assert.notEqual(tunnelsToLost('syn-sent'), '', 'ams-1 is still trying to reach sfo-2');
    // Let ams-1's next SYN through (it retries 1, 2, 4 s apart): the channel opens late, and
    // must be closed then (left open, it would hold sfo-2's sshd until its LoginGraceTime).
    blackHole(false);
    await new Promise((resolve) => setTimeout(resolve, 7000));
    assert.equal(tunnelsToLost('syn-sent'), '');
    assert.equal(tunnelsToLost('established'), '', 'no connection from the jump host to sfo-2 is left open');
    // The pool still works through the same jump host.
    const connection = await pool.connection(host('sfo-1'));
    assert.equal((await connection.exec({ op: 'run', argv: ['true'] })).code, 0);
  } finally {
    await pool.closeAll();
    blackHole(true);
  }
});
