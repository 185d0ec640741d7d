import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Host } from '../inventory/inventory.js';
import type { HostOutcome } from '../rollout/runner.js';
import { PhaseProgress } from './phase-progress.js';
import { Progress } from './progress.js';
import { groupedFailures, outcomeLine, summaryTable } from './summary.js';

const host = (name: string, dc: string): Host => ({
  name,
  dc,
  address: name,
  internalAddress: name,
  port: 22,
  user: 'root',
  deployTo: '/opt/app',
  proxyJump: undefined,
  sudo: false,
});
const hosts = [host('a1', 'ams'), host('a2', 'ams'), host('f1', 'fra')];

test('plain progress: one line per data center when its counts change, at most once a second', () => {
  let out = '';
  let now = 10_000;
  const progress = new Progress(
    { write: (text) => (out += text) },
    false,
    [
      { name: 'ams', hosts: hosts.slice(0, 2) },
      { name: 'fra', hosts: hosts.slice(2) },
    ],
    () => now,
  );
  progress.update(hosts[0] as Host, 'staging');
  progress.update(hosts[1] as Host, 'staging');
  now = 11_500;
  progress.update(hosts[0] as Host, 'healthy');
  progress.update(hosts[1] as Host, 'failed', 'boom');
  progress.finish();
  assert.equal(
    out,
    [
      'ams      [--------------------] 0/2  1 staging',
      'fra      [--------------------] 0/1',
      'ams      [##########----------] 1/2  1 staging, 1 healthy',
      '  a2 failed: boom',
      'ams      [####################] 2/2  1 healthy, 1 failed',
      '',
    ].join('\n'),
  );
});

test('TTY progress redraws its lines in place', async () => {
  let out = '';
  const progress = new Progress({ write: (text) => (out += text) }, true, [
    { name: 'ams', hosts: hosts.slice(0, 2) },
  ]);
  progress.update(hosts[0] as Host, 'healthy');
  progress.finish();
  progress.update(hosts[1] as Host, 'healthy');
  progress.finish();
  assert.equal(
    out,
    '\x1b[2Kams      [##########----------] 1/2  1 healthy\n\x1b[1A\x1b[2Kams      [####################] 2/2  2 healthy\n',
  );
});

test('summary table and failures grouped by message', () => {
  const outcome = (h: Host, state: HostOutcome['state'], error?: string): HostOutcome => ({
    host: h,
    state,
    previous: undefined,
    version: undefined,
    error,
    code: undefined,
  });
  const results = [
    outcome(hosts[0] as Host, 'healthy'),
    outcome(hosts[1] as Host, 'failed', 'cannot connect: connection refused (ECONNREFUSED)'),
    outcome(hosts[2] as Host, 'failed', 'cannot connect: connection refused (ECONNREFUSED)'),
  ];
  assert.equal(
    summaryTable(results),
    [
      'dc     hosts  healthy  failed  rolled-back  skipped  staged',
      'ams        2        1       1            0        0       0',
      'fra        1        0       1            0        0       0',
      'total      3        1       2            0        0       0',
    ].join('\n'),
  );
  assert.deepEqual(groupedFailures(results), [
    '2 hosts: cannot connect: connection refused (ECONNREFUSED)\n    a2, f1',
  ]);
  // A host that could not be reached is shown with the address and port pier tried.
  const unreachable = results.map((r) =>
    r.state === 'failed'
      ? {
          ...r,
          host: { ...r.host, address: `10.0.0.${r.host.name === 'a2' ? 2 : 3}`, port: 2222 },
          code: 'FLEET_SSH_CONNECT',
        }
      : r,
  );
  assert.deepEqual(groupedFailures(unreachable), [
    '2 hosts: cannot connect: connection refused (ECONNREFUSED)\n    a2 (10.0.0.2:2222), f1 (10.0.0.3:2222)',
  ]);
  // What to do about a failure, when its error says: once under its group.
  const hinted = results.map((r) =>
    r.state === 'failed' ? { ...r, hint: 'bring the host back, or take it out of fleet.yml' } : r,
  );
  assert.deepEqual(groupedFailures(hinted), [
    '2 hosts: cannot connect: connection refused (ECONNREFUSED)\n    a2, f1\n    hint: bring the host back, or take it out of fleet.yml',
  ]);
  // Hosts with their own deploy_to and the same failure: one group, the path as <deploy_to>;
  // a group of one deploy_to keeps the path, and /srv/a2 is not taken for /srv/a.
  const crashed = (name: string, deployTo: string, extra = '') =>
    outcome(
      { ...host(name, 'ams'), deployTo },
      'failed',
      `the app exited before its health check passed; see ${deployTo}/shared/log/app.log${extra}`,
    );
  assert.deepEqual(
    groupedFailures([
      crashed('a1', '/srv/a'),
      crashed('a2', '/srv/b'),
      crashed('a3', '/srv/c'),
      crashed('a4', '/srv/d', ' (exit 3)'),
      outcome({ ...host('a5', 'ams'), deployTo: '/srv/a' }, 'failed', 'cannot write /srv/a2/x'),
      outcome({ ...host('a6', 'ams'), deployTo: '/srv/b' }, 'failed', 'cannot write /srv/a2/x'),
    ]),
    [
      '3 hosts: the app exited before its health check passed; see <deploy_to>/shared/log/app.log\n    a1, a2, a3',
      '2 hosts: cannot write /srv/a2/x\n    a5, a6',
      '1 host: the app exited before its health check passed; see /srv/d/shared/log/app.log (exit 3)\n    a4',
    ],
  );
});

test('the outcome line never says done while a lock of the run remains', () => {
  const outcome = (h: Host, state: HostOutcome['state']): HostOutcome => ({
    host: h,
    state,
    previous: undefined,
    version: undefined,
    error: undefined,
    code: undefined,
  });
  const all = hosts.map((h) => outcome(h, 'healthy'));
  const done = { outcome: 'done' as const, haltReason: undefined, hosts: all, directUploads: 0, hooks: [] };
  assert.equal(outcomeLine(done, 'v2', 'deploy'), 'deploy v2: done, 3/3 hosts healthy');
  assert.equal(
    outcomeLine(done, 'v2', 'deploy', ['a2', 'f1']),
    "deploy v2: 3/3 hosts healthy, but this deploy's lock remains on 2 hosts (a2, f1): `pier unlock --hosts a2,f1` removes it",
  );
  const interrupted = {
    ...done,
    outcome: 'interrupted' as const,
    hosts: [outcome(hosts[0] as Host, 'healthy'), ...hosts.slice(1).map((h) => outcome(h, 'skipped'))],
  };
  assert.equal(
    outcomeLine(interrupted, 'v2', 'deploy', ['a1']),
    "deploy v2: interrupted with 1/3 hosts healthy; `pier deploy --resume` continues it; this deploy's lock remains on 1 host (a1): `pier unlock --hosts a1` removes it",
  );
  // Run again without --to, a rollback would take the hosts it moved one release further back.
  assert.equal(
    outcomeLine(interrupted, 'previous', 'rollback'),
    'rollback previous: interrupted with 1/3 hosts healthy; `pier rollback --hosts a2,f1` finishes it',
  );
  assert.equal(
    outcomeLine(interrupted, 'v1', 'rollback'),
    'rollback v1: interrupted with 1/3 hosts healthy; `pier rollback --to v1 --hosts a2,f1` finishes it',
  );
});

test('the outcome line never says done while a host is left with no healthy release', () => {
  const outcome = (h: Host, state: HostOutcome['state'], down?: boolean): HostOutcome => ({
    host: h,
    state,
    previous: 'v1',
    version: 'v1',
    error: undefined,
    code: undefined,
    ...(down === undefined ? {} : { down }),
  });
  const [a1, a2, f1] = hosts as [Host, Host, Host];
  const result = {
    outcome: 'done' as const,
    haltReason: undefined,
    hosts: [outcome(a1, 'healthy'), outcome(a2, 'failed', true), outcome(f1, 'failed', false)],
    directUploads: 0,
    hooks: [],
  };
  assert.equal(
    outcomeLine(result, 'v2', 'deploy', ['f1']),
    "deploy v2: 1/3 hosts healthy, but 1 host is left with no healthy release (a2); this deploy's lock remains on 1 host (f1): `pier unlock --hosts f1` removes it",
  );
  assert.equal(
    outcomeLine({ ...result, outcome: 'rolled-back', haltReason: 'canary a2 failed: x' }, 'v2', 'deploy'),
    'deploy v2: stopped and rolled back (canary a2 failed: x); 1 host is left with no healthy release (a2)',
  );
});

test('a whole-fleet phase shows its count, its rate and the time left', () => {
  let now = 0;
  let out = '';
  const phase = new PhaseProgress({ write: (text) => (out += text) }, false, 'lock', 5000, () => now).start();
  now = 4_000;
  for (let i = 0; i < 1000; i++) phase.tick(i < 3);
  assert.equal(phase.line(), 'lock: 1000/5000 hosts (3 failed), 250 hosts/s, about 16 s left');
  now = 20_000;
  for (let i = 0; i < 4000; i++) phase.tick();
  phase.finish();
  assert.equal(out, 'lock: 5000/5000 hosts (3 failed) in 20.0 s\n');
});
