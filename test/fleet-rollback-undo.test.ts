// `pier rollback` after a deploy that was interrupted after its canary, on four real hosts
// (network namespaces with sshd, see helpers/fleet-hosts.ts): the canary goes back to what it ran
// before that deploy, and the hosts the deploy never reached stay where they are.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type AppRepo, createAppRepo } from './helpers/fleet-app.js';
import { fetchText, pier } from './helpers/fleet-cli.js';
import { createTestFleet, leftovers, type TestFleet } from './helpers/fleet-hosts.js';
import { pierBin } from './helpers/paths.js';

let fleet: TestFleet;
let app: AppRepo;

before(async () => {
  fleet = await createTestFleet({ ams: 2, fra: 2 });
  app = createAppRepo();
  // One canary, one data center at a time, and a bake long enough to signal during the canary.
  writeFileSync(
    path.join(app.dir, 'deploy', 'fleet.yml'),
    fleet.fleetYaml({ health: { bake: '1500ms' }, rollout: { canary: 1, window: 1, failure_budget: 0 } }),
  );
});

after(async () => {
  await fleet?.cleanup();
  app?.cleanup();
  if (fleet) assert.deepEqual(leftovers(fleet), []);
});

const names = ['ams-1', 'ams-2', 'fra-1', 'fra-2'];
const currents = () =>
  names.map((name) => readlinkSync(path.join(fleet.host(name).opt as string, 'hello', 'current')));
const answers = () => Promise.all(names.map((name) => fetchText(`http://${fleet.host(name).address}:8080/`)));
const revisions = (name: string) =>
  readFileSync(path.join(fleet.host(name).opt as string, 'hello', 'revisions.log'), 'utf8');

/**
 * Runs `pier ARGS` and sends it SIGINT (Ctrl-C) once its journal matches `pattern`; its exit
 * code and output.
 */
async function interruptOnce(
  args: string[],
  pattern: RegExp,
): Promise<{ code: number | null; output: string }> {
  const deploys = path.join(app.dir, '.pier', 'deploys');
  const known = new Set(readdirSync(deploys));
  const child = spawn(process.execPath, [pierBin, ...args], { cwd: app.dir });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const journalShows = (): boolean => {
    const file = readdirSync(deploys).find((name) => name.endsWith('.jsonl') && !known.has(name));
    return file !== undefined && pattern.test(readFileSync(path.join(deploys, file), 'utf8'));
  };
  for (let waited = 0; !journalShows(); waited += 10) {
    assert.ok(waited < 60_000 && child.exitCode === null, `the journal never showed ${pattern}: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  child.kill('SIGINT');
  return { code: await exited, output };
}

test('rollback after a deploy interrupted past its canary: only the canary moves back', {
  timeout: 180_000,
}, async () => {
  for (const version of ['v1', 'v2', 'v3']) {
    app.commit(version);
    assert.equal((await pier(app.dir, ['release', version])).code, 0);
  }
  // Every host ran v1, then v2: each host's own history says "previous good: v1".
  for (const version of ['v1', 'v2']) {
    const done = await pier(app.dir, ['deploy', version, '--canary', '0', '--window', '4']);
    assert.equal(done.code, 0, `${done.stdout}\n${done.stderr}`);
  }

  // deploy v3, Ctrl-C while its canary (ams-1) is in its health gate: the canary finishes,
  // nothing else starts.
  const { code, output } = await interruptOnce(['deploy', 'v3'], /"host":"ams-1","state":"activating"/);
  assert.equal(code, 130, output);
  assert.match(output, /deploy v3: interrupted with 1\/4 hosts healthy/);
  const id = /deploy (\S+-v3-[0-9a-f]{4})$/m.exec(output)?.[1] as string;
  assert.deepEqual(currents(), ['releases/v3', 'releases/v2', 'releases/v2', 'releases/v2']);

  // Limited to a data center the deploy never reached: nothing moves (before, fra went to v1).
  const fra = await pier(app.dir, ['rollback', '--dc', 'fra']);
  assert.equal(fra.code, 0, `${fra.stdout}\n${fra.stderr}`);
  assert.match(
    fra.stdout,
    new RegExp(
      `^nothing to roll back: no selected host runs v3 from deploy ${id} \\(it switched ams-1\\); 2 hosts unchanged$`,
      'm',
    ),
  );
  assert.deepEqual(currents(), ['releases/v3', 'releases/v2', 'releases/v2', 'releases/v2']);

  // A plain rollback undoes that deploy: ams-1 back to v2; the others, never switched, stay.
  const back = await pier(app.dir, ['rollback']);
  assert.equal(back.code, 0, `${back.stdout}\n${back.stderr}`);
  assert.match(
    back.stdout,
    new RegExp(
      `^deploy ${id} \\(v3\\) ended interrupted: rolling it back, the hosts it switched return to the release each ran before it$`,
      'm',
    ),
  );
  assert.match(back.stdout, /^rolling back 1 host to their release before v3, \S+-rollback-previous-\S+$/m);
  assert.match(back.stdout, /^plan: v2: 1 host \(ams-1\); unchanged: 3 hosts \(ams-2, fra-1, fra-2\)$/m);
  assert.match(back.stdout, /^total +4 +1 +0 +0 +0 +0 +3$/m);
  assert.match(back.stdout, /^rollback v2: done, 1\/1 hosts healthy, 3 unchanged$/m);
  assert.deepEqual(currents(), Array(4).fill('releases/v2'));
  assert.deepEqual(await answers(), Array(4).fill('Hello! from v2'));
  assert.match(revisions('ams-1'), /action=rollback version=v2 previous=v3 result=healthy/);
  for (const name of ['ams-2', 'fra-1', 'fra-2'])
    assert.doesNotMatch(revisions(name), /action=rollback/, `${name} was not touched`);
  const report = JSON.parse(readFileSync(/report: (\S+)/.exec(back.stdout)?.[1] as string, 'utf8'));
  assert.deepEqual(
    report.hosts.map((h: { name: string; state: string }) => `${h.name} ${h.state}`),
    ['ams-1 healthy', 'ams-2 unchanged', 'fra-1 unchanged', 'fra-2 unchanged'],
  );

  // That rollback finished: the next one follows each host's history again, v2 → v1 everywhere.
  const further = await pier(app.dir, ['rollback']);
  assert.equal(further.code, 0, `${further.stdout}\n${further.stderr}`);
  assert.match(further.stdout, /^rolling back 4 hosts to their previous good release, /m);
  assert.match(further.stdout, /^rollback v1: done, 4\/4 hosts healthy$/m);
  assert.deepEqual(await answers(), Array(4).fill('Hello! from v1'));
});

test('rollback undoes the last deploy, however it ended; a plain rollback interrupted and run again carries on', {
  timeout: 180_000,
}, async () => {
  // Every host runs v1 (above); v2, then v3, everywhere: each host's history is v1, v2, v3.
  for (const version of ['v2', 'v3']) {
    const done = await pier(app.dir, ['deploy', version, '--canary', '0', '--window', '4']);
    assert.equal(done.code, 0, `${done.stdout}\n${done.stderr}`);
  }
  // The last deploy ended done: the rollback undoes it, every host back to what it ran before.
  const undo = await pier(app.dir, ['rollback']);
  assert.equal(undo.code, 0, `${undo.stdout}\n${undo.stderr}`);
  assert.match(
    undo.stdout,
    /^deploy \S+-v3-\S+ \(v3\) ended done: rolling it back, the hosts it switched return to the release each ran before it$/m,
  );
  assert.match(undo.stdout, /^rollback v2: done, 4\/4 hosts healthy$/m);
  assert.deepEqual(currents(), Array(4).fill('releases/v2'));

  // That rollback finished: the next one goes by each host's history (v2 → v1); Ctrl-C once its
  // canary is on v1.
  const { code, output } = await interruptOnce(['rollback'], /"host":"ams-1","state":"healthy"/);
  assert.equal(code, 130, output);
  const id = /^rolling back 4 hosts to their previous good release, (\S+)$/m.exec(output)?.[1] as string;
  const moved = names.filter((_, i) => currents()[i] === 'releases/v1');
  assert.ok(moved.includes('ams-1') && moved.length < 4, `moved: ${moved}`);

  // Run again: the hosts it moved stay on v1 (their history alone would take them further back).
  const again = await pier(app.dir, ['rollback']);
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assert.match(
    again.stdout,
    new RegExp(
      `^rollback ${id} ended interrupted: carrying on with it, the hosts it moved stay where they are$`,
      'm',
    ),
  );
  const rest = names.filter((name) => !moved.includes(name));
  const plan = /^plan: v1: \d+ hosts? \(([^)]*)\); unchanged: \d+ hosts? \(([^)]*)\)$/m.exec(again.stdout);
  assert.ok(plan, again.stdout);
  assert.deepEqual(plan[1]?.split(', ').sort(), rest);
  assert.deepEqual(plan[2]?.split(', ').sort(), moved);
  assert.deepEqual(currents(), Array(4).fill('releases/v1'));
  assert.deepEqual(await answers(), Array(4).fill('Hello! from v1'));
});
