// Which deploy a plain `pier rollback` undoes, and where each host goes: from journals alone.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { type JournalRecord, replayJournal } from './journal.js';
import {
  carryOnStep,
  type DeployToUndo,
  deployToUndo,
  findDeployToUndo,
  findRollbackToContinue,
  undoStep,
  versionPlan,
} from './undo.js';

const at = '2026-12-01T03:00:00Z';
const start = (id: string, action: 'deploy' | 'rollback', extra: object = {}): JournalRecord => ({
  type: 'start',
  id,
  action,
  version: action === 'deploy' ? 'v3' : 'previous',
  sha256: '',
  hosts: ['a', 'b', 'c', 'd'],
  owner: 'me@here',
  at,
  ...extra,
});
const lines = (records: JournalRecord[]) => records.map((r) => JSON.stringify(r)).join('\n');

/** A deploy of v3 interrupted after its canary `a`; `b` failed and was reverted; `c` only staged. */
const interrupted: JournalRecord[] = [
  start('20261201T030000Z-v3-aaaa', 'deploy'),
  { type: 'host', host: 'c', state: 'staged', at },
  { type: 'host', host: 'a', state: 'activating', previous: 'v2', at },
  { type: 'host', host: 'a', state: 'healthy', at },
  { type: 'host', host: 'b', state: 'activating', previous: 'v1', at },
  { type: 'host', host: 'b', state: 'failed', error: 'health', at },
];

/** Runs `body` with a fresh journal directory and a writer of journals into it; removes it after. */
async function withJournals(
  body: (dir: string, write: (id: string, records: JournalRecord[]) => void) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pier-undo-'));
  try {
    await body(dir, (id, records) => writeFileSync(path.join(dir, `${id}.jsonl`), `${lines(records)}\n`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the hosts a deploy switched, with the release each ran before; never-switched ones are not', () => {
  const undo = deployToUndo(
    replayJournal(lines(interrupted)) as NonNullable<ReturnType<typeof replayJournal>>,
  );
  assert.equal(undo.outcome, 'interrupted');
  assert.deepEqual(
    [...undo.switched],
    [
      ['a', 'v2'],
      ['b', 'v1'],
    ],
  );
  // Decided from what each host runs now.
  assert.deepEqual(undoStep(undo, 'a', 'v3'), { to: 'v2' });
  assert.deepEqual(undoStep(undo, 'b', 'v1'), { stay: 'it runs v1, not v3' });
  assert.deepEqual(undoStep(undo, 'c', 'v2'), { stay: 'deploy 20261201T030000Z-v3-aaaa never switched it' });
  assert.equal('fail' in undoStep({ ...undo, switched: new Map([['a', undefined]]) }, 'a', 'v3'), true);
});

test('the newest deploy that switched a host is undone, however it ended, and an unclean rollback of one carries on', async () => {
  await withJournals(async (dir, write) => {
    write('20261201T030000Z-v3-aaaa', interrupted);
    assert.equal((await findDeployToUndo(dir, 'deploy/fleet.yml'))?.id, '20261201T030000Z-v3-aaaa');
    // A refused run changed nothing: passed over.
    write('20261201T030100Z-v4-bbbb', [
      start('20261201T030100Z-v4-bbbb', 'deploy'),
      { type: 'end', outcome: 'refused', at },
    ]);
    assert.equal((await findDeployToUndo(dir, 'deploy/fleet.yml'))?.id, '20261201T030000Z-v3-aaaa');
    // A rollback of it that was interrupted too: the same deploy is undone again.
    const rollbackId = '20261201T030200Z-rollback-previous-cccc';
    write(rollbackId, [start(rollbackId, 'rollback', { undoes: '20261201T030000Z-v3-aaaa' })]);
    assert.equal((await findDeployToUndo(dir, 'deploy/fleet.yml'))?.id, '20261201T030000Z-v3-aaaa');
    // Once that rollback is done, rollbacks follow each host's history again.
    write(rollbackId, [
      start(rollbackId, 'rollback', { undoes: '20261201T030000Z-v3-aaaa' }),
      { type: 'end', outcome: 'done', at },
    ]);
    assert.equal(await findDeployToUndo(dir, 'deploy/fleet.yml'), undefined);
    // A newer deploy that switched no host (interrupted while staging) is passed over.
    write('20261201T030300Z-v5-dddd', [
      start('20261201T030300Z-v5-dddd', 'deploy'),
      { type: 'host', host: 'a', state: 'staged', at },
    ]);
    assert.equal(await findDeployToUndo(dir, 'deploy/fleet.yml'), undefined);
    // A newer deploy that finished is the one undone, with the host that failed and went back
    // left where it is: the deploy never left it on its release.
    write('20261201T030400Z-v6-eeee', [
      start('20261201T030400Z-v6-eeee', 'deploy'),
      { type: 'host', host: 'a', state: 'activating', previous: 'v5', at },
      { type: 'host', host: 'a', state: 'healthy', at },
      { type: 'host', host: 'b', state: 'activating', previous: 'v5', at },
      { type: 'host', host: 'b', state: 'rolled-back', at },
      { type: 'end', outcome: 'done', at },
    ]);
    const done = await findDeployToUndo(dir, 'deploy/fleet.yml');
    assert.equal(done?.id, '20261201T030400Z-v6-eeee');
    assert.deepEqual([...(done?.switched ?? [])], [['a', 'v5']]);
  });
});

test("another inventory file's runs are passed over: a staging deploy is never undone by a prod rollback", async () => {
  await withJournals(async (dir, write) => {
    // prod's last deploy did not finish; staging's, newer, did not either.
    const switched: JournalRecord = { type: 'host', host: 'a', state: 'activating', previous: 'v2', at };
    write('20261201T030000Z-v3-aaaa', [
      start('20261201T030000Z-v3-aaaa', 'deploy', { fleet: 'deploy/prod.yml' }),
      switched,
    ]);
    write('20261201T030500Z-v4-bbbb', [
      start('20261201T030500Z-v4-bbbb', 'deploy', { fleet: 'deploy/staging.yml' }),
      switched,
    ]);
    assert.equal((await findDeployToUndo(dir, 'deploy/prod.yml'))?.id, '20261201T030000Z-v3-aaaa');
    assert.equal((await findDeployToUndo(dir, 'deploy/staging.yml'))?.id, '20261201T030500Z-v4-bbbb');
    // A journal from before the file was recorded counts as any file's.
    write('20261201T031000Z-v5-cccc', [start('20261201T031000Z-v5-cccc', 'deploy'), switched]);
    assert.equal((await findDeployToUndo(dir, 'deploy/prod.yml'))?.id, '20261201T031000Z-v5-cccc');
  });
});

test('an unfinished plain rollback is carried on with, through every rollback that carried on with it', async () => {
  await withJournals(async (dir, write) => {
    const first = '20261201T040000Z-rollback-previous-aaaa';
    const second = '20261201T040100Z-rollback-previous-bbbb';
    // The first moved a (v3 → v2) and was interrupted; b failed its gate and went back to v3.
    write(first, [
      start(first, 'rollback'),
      { type: 'host', host: 'a', state: 'activating', previous: 'v3', at },
      { type: 'host', host: 'a', state: 'healthy', at },
      { type: 'host', host: 'b', state: 'activating', previous: 'v3', at },
      { type: 'host', host: 'b', state: 'rolled-back', at },
    ]);
    const carried = await findRollbackToContinue(dir, 'deploy/fleet.yml');
    assert.equal(carried?.id, first);
    assert.deepEqual([...(carried?.switched.keys() ?? [])], ['a']);
    assert.match(
      JSON.stringify(carryOnStep(carried as DeployToUndo, 'a', 'v2')),
      /moved it already \(to v2\)/,
    );
    assert.equal(carryOnStep(carried as DeployToUndo, 'b', 'v3'), undefined, 'b goes by its history again');
    assert.equal(
      carryOnStep(carried as DeployToUndo, 'a', 'v3'),
      undefined,
      'a never left v3: its switch did not happen',
    );
    // The second carried on with it, moved c, and was interrupted too: a and c stay.
    write(second, [
      start(second, 'rollback', { continues: first }),
      { type: 'host', host: 'c', state: 'activating', previous: 'v3', at },
    ]);
    const again = await findRollbackToContinue(dir, 'deploy/fleet.yml');
    assert.equal(again?.id, second);
    assert.deepEqual([...(again?.switched.keys() ?? [])].sort(), ['a', 'c']);
    // Done, or a --to rollback, or a deploy after it: nothing to carry on with.
    write(second, [start(second, 'rollback', { continues: first }), { type: 'end', outcome: 'done', at }]);
    assert.equal(await findRollbackToContinue(dir, 'deploy/fleet.yml'), undefined);
    // Done, but with a host it could not reach: not over, it is carried on with.
    write(second, [
      start(second, 'rollback', { continues: first }),
      { type: 'host', host: 'c', state: 'activating', previous: 'v3', at },
      { type: 'host', host: 'c', state: 'healthy', at },
      { type: 'host', host: 'd', state: 'failed', error: 'cannot connect', at },
      { type: 'end', outcome: 'done', at },
    ]);
    assert.deepEqual(
      [...((await findRollbackToContinue(dir, 'deploy/fleet.yml'))?.switched.keys() ?? [])].sort(),
      ['a', 'c'],
    );
  });
});

test('the plan names each release with its hosts, the largest group first, unchanged last', () => {
  assert.equal(
    versionPlan(
      new Map([
        ['a', 'v2'],
        ['b', 'v1'],
        ['c', 'v2'],
      ]),
      ['d'],
    ),
    'v2: 2 hosts (a, c); v1: 1 host (b); unchanged: 1 host (d)',
  );
});

test('a redeploy of the release the hosts ran (secrets rotated) has nothing to undo: the deploy before it is the last one', async () => {
  await withJournals(async (dir, write) => {
    write('20261201T050000Z-v3-aaaa', [
      start('20261201T050000Z-v3-aaaa', 'deploy'),
      { type: 'host', host: 'a', state: 'activating', previous: 'v2', at },
      { type: 'host', host: 'a', state: 'healthy', at },
      { type: 'end', outcome: 'done', at },
    ]);
    write('20261201T050100Z-v3-bbbb', [
      start('20261201T050100Z-v3-bbbb', 'deploy'),
      { type: 'host', host: 'a', state: 'activating', previous: 'v3', at },
      { type: 'host', host: 'a', state: 'healthy', at },
      { type: 'end', outcome: 'done', at },
    ]);
    const undo = await findDeployToUndo(dir, 'deploy/fleet.yml');
    assert.equal(undo?.id, '20261201T050000Z-v3-aaaa');
    assert.deepEqual([...(undo?.switched ?? [])], [['a', 'v2']]);
  });
});
