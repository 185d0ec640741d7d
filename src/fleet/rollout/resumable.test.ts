// `pier deploy --resume` continues the newest run only: journals in, the chosen run or the refusal out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { replayJournal } from './journal.js';
import { chooseResumable } from './resumable.js';

/** A journal as a run leaves it: its start, and its end when it had one. */
function journal(id: string, at: string, action: 'deploy' | 'rollback', version: string, end?: string) {
  const lines = [
    JSON.stringify({ type: 'start', id, action, version, sha256: '', hosts: ['a'], owner: 'me@here', at }),
    ...(end === undefined ? [] : [JSON.stringify({ type: 'end', outcome: end, at })]),
  ];
  return replayJournal(lines.join('\n')) as NonNullable<ReturnType<typeof replayJournal>>;
}

const refusal = (journals: ReturnType<typeof journal>[], id?: string) => {
  try {
    chooseResumable(journals, id, '/repo/.pier/deploys', 'deploy/fleet.yml');
  } catch (err) {
    const { code, message, exitCode, hint } = err as {
      code: string;
      message: string;
      exitCode: number;
      hint: string;
    };
    return { code, message, exitCode, hint };
  }
  return assert.fail('expected a refusal');
};

const stale = journal('D1-v2', '2026-01-01T10:00:00.000Z', 'deploy', 'v2');

test('the newest run, interrupted, is resumed; so is the one named', () => {
  const done = journal('D0-v1', '2026-01-01T09:00:00.000Z', 'deploy', 'v1', 'done');
  assert.equal(chooseResumable([stale, done], undefined, '/d', 'deploy/fleet.yml').id, 'D1-v2');
  assert.equal(chooseResumable([done, stale], 'D1-v2', '/d', 'deploy/fleet.yml').id, 'D1-v2');
});

test('a deploy that a later deploy or rollback followed is not resumed, with or without its id', () => {
  const v3 = journal('D2-v3', '2026-01-01T10:05:00.000Z', 'deploy', 'v3', 'done');
  for (const id of [undefined, 'D1-v2']) {
    const refused = refusal([v3, stale], id);
    assert.equal(refused.code, 'FLEET_NOT_RESUMABLE');
    assert.equal(refused.exitCode, 2);
    assert.equal(refused.message, 'deploy D1-v2 (v2) was superseded by deploy D2-v3 (v3, done)');
    assert.match(refused.hint, /`pier deploy v2` deploys v2 again/);
  }
  const back = journal('R3', '2026-01-01T10:06:00.000Z', 'rollback', 'v1', 'done');
  assert.equal(refusal([stale, back]).message, 'deploy D1-v2 (v2) was superseded by rollback R3 (v1, done)');
  // Both unfinished: the later one is the one to resume; the earlier one is stale.
  const later = journal('D4-v4', '2026-01-01T10:07:00.000Z', 'deploy', 'v4');
  assert.equal(chooseResumable([stale, later], undefined, '/d', 'deploy/fleet.yml').id, 'D4-v4');
  assert.match(refusal([stale, later], 'D1-v2').message, /superseded by deploy D4-v4 \(v4, unfinished\)/);
  // Started in the same second: the start times order them, not the ids.
  const sameSecond = journal('D0-zz', '2026-01-01T10:00:00.500Z', 'deploy', 'v9', 'done');
  assert.match(refusal([sameSecond, stale]).message, /superseded by deploy D0-zz/);
});

test('a run refused before it moved a host supersedes nothing', () => {
  const refusedRun = journal('D2-v3', '2026-01-01T10:05:00.000Z', 'deploy', 'v3', 'refused');
  assert.equal(chooseResumable([stale, refusedRun], undefined, '/d', 'deploy/fleet.yml').id, 'D1-v2');
});

test('an interrupted rollback, an ended deploy, no journal: each refused with its reason', () => {
  const rollback = journal('R5', '2026-01-01T10:08:00.000Z', 'rollback', 'previous');
  // The unfinished rollback is what is left to finish, not the older deploy it followed.
  assert.equal(
    refusal([stale, rollback]).message,
    'the newest run is rollback R5 (previous, unfinished); --resume continues deploys only',
  );
  assert.match(
    refusal([stale, rollback], 'D1-v2').message,
    /superseded by rollback R5 \(previous, unfinished\)$/,
  );
  const newest = refusal([rollback]);
  assert.equal(
    newest.message,
    'the newest run is rollback R5 (previous, unfinished); --resume continues deploys only',
  );
  assert.equal(newest.exitCode, 2);
  assert.match(refusal([rollback], 'R5').message, /^rollback R5 .*--resume continues deploys only/);
  const ended = journal('D6', '2026-01-01T10:09:00.000Z', 'deploy', 'v6', 'done');
  assert.equal(refusal([ended], 'D6').message, 'deploy D6 already ended (done)');
  assert.equal(refusal([ended]).message, 'no interrupted deploy to resume');
  assert.equal(refusal([ended]).exitCode, 2);
  assert.equal(refusal([], 'D7').message, 'no journal for deploy D7');
  assert.equal(refusal([], 'D7').exitCode, 2);
});

test("another inventory file's runs neither resume nor supersede: each file has its own newest run", () => {
  const withFile = (replay: ReturnType<typeof journal>, fleet: string) => ({
    ...replay,
    start: { ...replay.start, fleet },
  });
  const prod = withFile(stale, 'deploy/prod.yml');
  const staging = withFile(
    journal('D2-v3', '2026-01-01T10:05:00.000Z', 'deploy', 'v3'),
    'deploy/staging.yml',
  );
  assert.equal(chooseResumable([prod, staging], undefined, '/d', 'deploy/prod.yml').id, 'D1-v2');
  assert.equal(chooseResumable([prod, staging], undefined, '/d', 'deploy/staging.yml').id, 'D2-v3');
  try {
    chooseResumable([prod, staging], 'D2-v3', '/d', 'deploy/prod.yml');
    assert.fail('expected a refusal');
  } catch (err) {
    const { message, hint, exitCode } = err as { message: string; hint: string; exitCode: number };
    assert.equal(message, 'deploy D2-v3 ran with deploy/staging.yml, not deploy/prod.yml');
    assert.equal(hint, 'resume it with its own inventory: pier deploy --resume D2-v3 -c deploy/staging.yml');
    assert.equal(exitCode, 2);
  }
});
