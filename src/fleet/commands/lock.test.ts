// The lock scripts run by a real /bin/sh on a real directory, in German (messages are never
// read): many takers at once get exactly one lock; a stale lock is taken over once, and only
// while it is unchanged; a release never frees another deploy's lock.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { layoutOf } from './layout.js';
import { breakLock, parseLockReport, releaseLock, takeLock } from './lock.js';
import { render, type Script } from './shell.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pier-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function sh(script: Script): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      '/bin/sh',
      ['-c', render(script)],
      { env: { PATH: process.env.PATH, LANGUAGE: 'de', LANG: 'C.UTF-8' } },
      (err, stdout) => resolve({ code: err ? Number(err.code) : 0, stdout }),
    );
  });
}

const info = (deploy: string) => JSON.stringify({ owner: 'o@h', deploy, since: 's', expires: 'e' });

test('of many takers at once exactly one gets the lock; the others are told who', async () => {
  const layout = layoutOf(path.join(dir, 'race'));
  const results = await Promise.all(
    Array.from({ length: 12 }, (_, n) => sh(takeLock(layout, `d${n}`, info(`d${n}`), `n${n}`))),
  );
  assert.ok(results.every((result) => result.code === 0));
  const reports = results.map((result) => parseLockReport(result.stdout));
  const winners = reports.flatMap((report, n) => (report?.state === 'taken' ? [n] : []));
  assert.equal(winners.length, 1);
  const winner = info(`d${winners[0]}`);
  assert.equal(readFileSync(layout.lockInfo, 'utf8'), `${winner}\n`);
  for (const report of reports) if (report?.state === 'held') assert.equal(report.holder, winner);
  assert.deepEqual(readdirSync(layout.root), ['.pier-lock'], 'no temporary directory left');
});

test('a stale lock is taken over by one taker, and only while it is unchanged', async () => {
  const layout = layoutOf(path.join(dir, 'stale'));
  mkdirSync(layout.lock, { recursive: true });
  writeFileSync(layout.lockInfo, `${info('dead')}\n`);
  // Renewed since it was read: not stale any more, not taken.
  const renewed = parseLockReport((await sh(takeLock(layout, 'a', info('a'), 'n0', info('old')))).stdout);
  assert.deepEqual(renewed, { state: 'held', holder: info('dead') });
  // Two controllers at once (three within the same milliseconds can set the middle one's lock
  // aside instead: docs/fleet.md, Locks).
  const results = await Promise.all(
    ['a', 'b'].map((id) => sh(takeLock(layout, id, info(id), `n-${id}`, info('dead')))),
  );
  const taken = results.filter((result) => parseLockReport(result.stdout)?.state === 'taken');
  assert.equal(taken.length, 1);
  assert.deepEqual(readdirSync(layout.root), ['.pier-lock']);
});

test("a release frees only its own deploy's lock and says so by exit code", async () => {
  const layout = layoutOf(path.join(dir, 'release'));
  assert.equal(
    parseLockReport((await sh(takeLock(layout, 'mine', info('mine'), 'n1'))).stdout)?.state,
    'taken',
  );
  assert.equal((await sh(releaseLock(layout, 'other', 'n2'))).code, 0, 'no lock of "other" is left');
  assert.ok(existsSync(layout.lockInfo), 'and "mine" was not touched');
  assert.equal((await sh(releaseLock(layout, 'mine', 'n3'))).code, 0);
  assert.equal(existsSync(layout.lock), false);
  assert.deepEqual((await sh(breakLock(layout, 'n4'))).stdout, 'pier-lock: none\n');
  await sh(takeLock(layout, 'x', info('x'), 'n5'));
  const broken = await sh(breakLock(layout, 'n6'));
  assert.equal(broken.code, 0);
  assert.deepEqual(parseLockReport(broken.stdout), { state: 'held', holder: info('x') });
  assert.deepEqual(readdirSync(layout.root), []);
});
