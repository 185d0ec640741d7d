// The pure parts of a rollout: budgets, the planner, retention, history and journal replay.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Datacenter, Host } from '../inventory/inventory.js';
import { allowedFailures, type BudgetBreach, FailureBudget, hostCount } from './budget.js';
import { parseRevisions, previousGood } from './history.js';
import { replayJournal } from './journal.js';
import { planRollout, waves } from './plan.js';
import { parseReleaseList, releasesInUse, releasesToRemove } from './retention.js';
import { interleaved } from './runner.js';

const count = (value: number) => ({ kind: 'count' as const, value });
const percent = (value: number) => ({ kind: 'percent' as const, value });

function dc(name: string, size: number, extra: Partial<Datacenter> = {}): Datacenter {
  const hosts: Host[] = Array.from({ length: size }, (_, i) => ({
    name: `${name}-${i + 1}`,
    dc: name,
    address: `${name}-${i + 1}`,
    internalAddress: `${name}-${i + 1}`,
    port: 22,
    user: 'root',
    deployTo: '/opt/app',
    proxyJump: undefined,
    sudo: false,
  }));
  return { name, canary: count(1), window: count(2), failureBudget: count(0), hosts, ...extra };
}

const rollout = (extra = {}) => ({
  rollout: {
    canary: count(1),
    window: count(2),
    failure_budget: count(1),
    dc_parallel: 1,
    stage_window: 20,
    distribution: 'relay' as const,
    ...extra,
  },
});

test('budget arithmetic: counts as given, shares round down', () => {
  assert.equal(allowedFailures(count(3), 10), 3);
  assert.equal(allowedFailures(percent(10), 9), 0);
  assert.equal(allowedFailures(percent(10), 10), 1);
  assert.equal(allowedFailures(percent(1), 5000), 50);
  assert.equal(allowedFailures(percent(33.3), 3), 0);
  assert.equal(allowedFailures(percent(100), 7), 7);
});

test('canary and window sizes: shares round up, never above the hosts there', () => {
  assert.equal(hostCount(percent(10), 5), 1);
  assert.equal(hostCount(percent(10), 250), 25);
  assert.equal(hostCount(percent(0), 250), 0);
  assert.equal(hostCount(count(5), 3), 3);
});

test('over budget when failures exceed it, globally or in one data center', () => {
  const budget = new FailureBudget(
    2,
    new Map([
      ['ams', 1],
      ['fra', 0],
    ]),
  );
  assert.equal(budget.fail('ams'), undefined);
  const fra = budget.fail('fra');
  assert.deepEqual(fra, { scope: 'data center fra', dc: 'fra', failures: 1, allowed: 0 });
  const global = new FailureBudget(1, new Map([['ams', 5]]));
  assert.equal(global.fail('ams'), undefined);
  const fleet = global.fail('ams');
  assert.deepEqual(fleet, { scope: 'fleet', failures: 2, allowed: 1 });
  // Hosts in flight at the breach that fail after it: the halt reason gives the final count.
  budget.fail('fra');
  budget.fail('ams');
  assert.deepEqual(budget.recount(fra as BudgetBreach), { ...fra, failures: 2 });
  global.fail('ams');
  assert.deepEqual(global.recount(fleet as BudgetBreach), { ...fleet, failures: 3 });
});

test('the planner: canaries first per data center, then window-sized waves', () => {
  const plan = planRollout(
    [dc('ams', 5), dc('fra', 2, { canary: count(0), window: percent(50) }), dc('sfo', 0)],
    rollout(),
  );
  assert.deepEqual(
    plan.datacenters.map((d) => waves(d).map((wave) => wave.map((host) => host.name))),
    [
      [['ams-1'], ['ams-2', 'ams-3'], ['ams-4', 'ams-5']],
      [['fra-1'], ['fra-2']],
    ],
  );
  assert.equal(plan.hostCount, 7);
  assert.equal(plan.failureBudget, 1);
  assert.equal(plan.datacenters[1]?.window, 1);
});

test('the planner: percentage budgets are taken of the hosts they cover', () => {
  const plan = planRollout(
    [dc('ams', 200, { failureBudget: percent(2) })],
    rollout({ failure_budget: percent(1) }),
  );
  assert.equal(plan.failureBudget, 2);
  assert.equal(plan.datacenters[0]?.failureBudget, 4);
});

const revisionsOf = (...lines: [version: string, result: string][]) =>
  parseRevisions(
    lines.map(
      ([version, result], at) =>
        `2024-01-0${at + 1}T00:00:00Z deploy=d${at} action=deploy version=${version} previous=- result=${result} by=x@y`,
    ),
  );

test('retention without a revisions.log keeps current, the previous release and the newest', () => {
  const dirs = parseReleaseList('100.5 v1\n200 v2\n300 v3\n400 v4\n500 v5\n50 .partial-v6\ngarbage\n');
  const none = { releases: dirs, revisions: [], keep: 2 };
  assert.deepEqual(releasesToRemove({ ...none, current: 'v5', previous: 'v4' }), ['v1', 'v2', 'v3']);
  // Rolled back to an old release: it and the one it replaced stay even though they are old.
  assert.deepEqual(releasesToRemove({ ...none, current: 'v1', previous: 'v2' }), ['v3', 'v4', 'v5']);
  assert.deepEqual(releasesToRemove({ ...none, keep: 3, current: 'v1', previous: 'v2' }), ['v3', 'v4']);
  assert.deepEqual(releasesToRemove({ ...none, keep: 10, current: 'v5', previous: 'v4' }), []);
});

test('retention keeps the release a reloaded pier serve still starts its workers from', () => {
  // The master started from v1 and has only been reloaded since: its STATUS= names v1's files.
  const status =
    '2 of 2 workers ready, 12 requests served by the current workers; workers start from /opt/app/releases/v1/node_modules/pier/dist/src/server/worker/main.js on /opt/app/releases/v1/.pier-runtime/bin/node';
  assert.deepEqual(releasesInUse(status, '/opt/app/releases'), ['v1']);
  assert.deepEqual(releasesInUse(status, '/opt/app/releases/'), ['v1']);
  // A host Node and a pier outside the releases pin nothing; nor does another app's releases.
  assert.deepEqual(
    releasesInUse('workers start from /usr/lib/pier/main.js on /usr/bin/node', '/opt/app/releases'),
    [],
  );
  assert.deepEqual(releasesInUse('from /opt/app/releases2/v1/x', '/opt/app/releases'), []);
  const dirs = parseReleaseList('100 v1\n200 v2\n300 v3\n400 v4\n500 v5\n');
  const input = { releases: dirs, revisions: [], keep: 2, current: 'v5', previous: 'v4' };
  assert.deepEqual(releasesToRemove(input), ['v1', 'v2', 'v3']);
  assert.deepEqual(releasesToRemove({ ...input, inUse: ['v1'] }), ['v2', 'v3']);
});

test('retention removes a staged, never activated release before the rollback target', () => {
  // v3 was staged ahead of its canary, which failed; then v2 was deployed again.
  const releases = parseReleaseList('100 v1\n200 v2\n300 v3\n');
  const revisions = revisionsOf(['v1', 'healthy'], ['v2', 'healthy'], ['v2', 'healthy']);
  const input = { releases, revisions, keep: 2, current: 'v2', previous: undefined };
  assert.deepEqual(releasesToRemove(input), ['v3']);
  // On the canary itself v3 ran and failed: no more use than a release that never ran.
  const canary = revisionsOf(['v1', 'healthy'], ['v2', 'healthy'], ['v3', 'failed']);
  assert.deepEqual(releasesToRemove({ ...input, revisions: canary }), ['v3']);
  // And what stays is what `pier rollback` looks for.
  assert.equal(previousGood(revisions, 'v2', ['v1', 'v2']), 'v1');
});

test('retention ranks releases by their latest healthy activation, not by their age', () => {
  const releases = parseReleaseList('100 v1\n200 v2\n300 v3\n400 v4\n');
  // v1 came back by a rollback, then v4 was deployed: v1 is the rollback target, v3 the next used.
  const revisions = revisionsOf(
    ['v1', 'healthy'],
    ['v2', 'healthy'],
    ['v3', 'healthy'],
    ['v1', 'healthy'],
    ['v4', 'healthy'],
  );
  const input = { releases, revisions, keep: 3, current: 'v4', previous: 'v1' };
  assert.deepEqual(releasesToRemove(input), ['v2']);
  assert.deepEqual(releasesToRemove({ ...input, keep: 2 }), ['v2', 'v3']);
  // The release current before this deploy stays as well, beyond keep_releases.
  assert.deepEqual(releasesToRemove({ ...input, keep: 2, previous: 'v2' }), ['v3']);
});

test('history: revisions parse; the rollback target is the healthy release below current, on disk', () => {
  const revisions = parseRevisions([
    '2024-01-01T00:00:00Z deploy=a action=deploy version=v1 previous=- result=healthy by=x@y',
    '2024-01-02T00:00:00Z deploy=b action=deploy version=v2 previous=v1 result=healthy by=x@y',
    '2024-01-03T00:00:00Z deploy=c action=deploy version=v3 previous=v2 result=rolled-back by=x@y',
    'not a revision line',
  ]);
  assert.equal(revisions.length, 3);
  assert.equal(revisions[1]?.previous, 'v1');
  assert.equal(previousGood(revisions, 'v2', ['v1', 'v2', 'v3']), 'v1');
  assert.equal(previousGood(revisions, 'v3', ['v1', 'v2', 'v3']), 'v2');
  assert.equal(previousGood(revisions, 'v2', ['v2', 'v3']), undefined);
});

test('history: a rollback takes the release it left off the stack until it is deployed again', () => {
  const line = (action: string, version: string, previous: string, result = 'healthy') =>
    `2024-01-01T00:00:00Z deploy=d action=${action} version=${version} previous=${previous} result=${result} by=x@y`;
  const onDisk = ['v1', 'v2', 'v3'];
  const deployed = [line('deploy', 'v1', '-'), line('deploy', 'v2', 'v1'), line('deploy', 'v3', 'v2')];
  const once = [...deployed, line('rollback', 'v2', 'v3')];
  // The first rollback went v3 -> v2; the second goes to v1, not back to v3.
  assert.equal(previousGood(parseRevisions(once), 'v2', onDisk), 'v1');
  // After the second, nothing is left below v1.
  const twice = [...once, line('rollback', 'v1', 'v2')];
  assert.equal(previousGood(parseRevisions(twice), 'v1', onDisk), undefined);
  // v3 deployed again is back on top: its rollback target is what ran before it.
  assert.equal(previousGood(parseRevisions([...twice, line('deploy', 'v3', 'v1')]), 'v3', onDisk), 'v1');
  assert.equal(previousGood(parseRevisions([...once, line('deploy', 'v3', 'v2')]), 'v3', onDisk), 'v2');
  // Deploying an old release again: rollback returns to the one it replaced (Capistrano's order).
  assert.equal(previousGood(parseRevisions([...deployed, line('deploy', 'v1', 'v3')]), 'v1', onDisk), 'v3');
  // A rollback that did not end healthy changes nothing.
  const failed = [...deployed, line('rollback', 'v2', 'v3', 'failed')];
  assert.equal(previousGood(parseRevisions(failed), 'v3', onDisk), 'v2');
  // A target no longer on disk is skipped.
  assert.equal(previousGood(parseRevisions(once), 'v2', ['v2', 'v3']), undefined);
  // `rollback --to v3` after v3 was rolled back from goes forward: v2 stays below it.
  const forward = [...once, line('rollback', 'v3', 'v2')];
  assert.equal(previousGood(parseRevisions(forward), 'v3', onDisk), 'v2');
});

test('journal replay: last state wins, previous sticks, a torn line is ignored', () => {
  const lines = [
    {
      type: 'start',
      id: 'd1',
      action: 'deploy',
      version: 'v2',
      sha256: 'x',
      hosts: ['a', 'b', 'c'],
      owner: 'o',
      at: 't',
    },
    { type: 'host', host: 'a', state: 'staged', at: 't' },
    { type: 'host', host: 'a', state: 'activating', previous: 'v1', at: 't' },
    { type: 'host', host: 'a', state: 'healthy', at: 't' },
    { type: 'host', host: 'b', state: 'failed', error: 'cannot connect', code: 'FLEET_SSH_CONNECT', at: 't' },
  ].map((record) => JSON.stringify(record));
  const replay = replayJournal(`${lines.join('\n')}\n{"type":"host","host":"c","sta`);
  assert.equal(replay?.start.version, 'v2');
  assert.deepEqual(replay?.hosts.get('a'), {
    state: 'healthy',
    previous: 'v1',
    error: undefined,
    code: undefined,
  });
  assert.equal(replay?.hosts.get('b')?.code, 'FLEET_SSH_CONNECT');
  assert.equal(replay?.hosts.has('c'), false);
  assert.equal(replay?.end, undefined);
  assert.equal(replayJournal('{"type":"host","host":"a","state":"staged","at":"t"}\n'), undefined);
  const ended = replayJournal(
    `${lines[0]}\n{"type":"halt","reason":"over budget","at":"t"}\n{"type":"end","outcome":"rolled-back","at":"t"}\n`,
  );
  assert.equal(ended?.halt, 'over budget');
  assert.equal(ended?.end, 'rolled-back');
});

test('staging takes the data centers in turn, each in its own order', () => {
  const at = (dc: string, n: number) => ({ name: `${dc}${n}`, dc }) as Host;
  const order = interleaved([
    at('ams', 1),
    at('ams', 2),
    at('ams', 3),
    at('fra', 1),
    at('sfo', 1),
    at('sfo', 2),
  ]);
  assert.deepEqual(
    order.map((host) => host.name),
    ['ams1', 'fra1', 'sfo1', 'ams2', 'sfo2', 'ams3'],
  );
});
