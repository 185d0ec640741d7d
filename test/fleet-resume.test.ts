// The controller is SIGKILLed in the middle of a rollout; `pier deploy --resume` reads the
// journal, takes over the dead deploy's locks and converges without redoing finished hosts.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type AppRepo, createAppRepo } from './helpers/fleet-app.js';
import { fetchText, pier } from './helpers/fleet-cli.js';
import { createTestFleet, leftovers, type TestFleet } from './helpers/fleet-hosts.js';
import { pierBin } from './helpers/paths.js';

let fleet: TestFleet;
let app: AppRepo;

before(async () => {
  fleet = await createTestFleet({ ams: 2, fra: 2, sfo: 2 });
  app = createAppRepo();
  // One host at a time with a bake, so the rollout is slow enough to be killed half-way.
  writeFileSync(
    path.join(app.dir, 'deploy', 'fleet.yml'),
    fleet.fleetYaml({ health: { bake: '400ms' }, rollout: { canary: 1, window: 1, failure_budget: 0 } }),
  );
});

after(async () => {
  await fleet?.cleanup();
  app?.cleanup();
  if (fleet) assert.deepEqual(leftovers(fleet), []);
});

const healthyIn = (journal: string) =>
  (readFileSync(journal, 'utf8').match(/"state":"healthy"/g) ?? []).length;

/** Starts `pier deploy VERSION` and resolves once its journal shows two healthy hosts. */
async function deployHalfWay(version: string): Promise<{
  child: ChildProcessWithoutNullStreams;
  exited: Promise<number | null>;
  journal: string;
  output: () => string;
}> {
  const deploys = path.join(app.dir, '.pier', 'deploys');
  const before = new Set(readdirSync(deploys));
  const child = spawn(process.execPath, [pierBin, 'deploy', version], { cwd: app.dir });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  let journal: string | undefined;
  const deadline = Date.now() + 60_000;
  for (;;) {
    journal ??= readdirSync(deploys).find((name) => name.endsWith('.jsonl') && !before.has(name));
    if (journal && healthyIn(path.join(deploys, journal)) >= 2) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      assert.fail('the deploy did not get half-way');
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { child, exited, journal: path.join(deploys, journal), output: () => output };
}

/**
 * A lock another controller holds for 10 minutes, at `dir` (a host's `.pier-lock` or the fleet
 * lock's `.pier-fleet-lock`), built as commands/lock.ts builds one: its info and its owner file.
 */
function placeForeignLock(dir: string): void {
  mkdirSync(dir, { mode: 0o755 });
  const since = new Date();
  const info = {
    owner: 'ops@elsewhere',
    deploy: 'other',
    since,
    expires: new Date(since.getTime() + 600_000),
  };
  writeFileSync(path.join(dir, 'info'), `${JSON.stringify(info)}\n`, { mode: 0o644 });
  writeFileSync(path.join(dir, 'deploy-other'), '', { mode: 0o644 });
}

test('a controller killed mid-rollout: --resume converges', { timeout: 120_000 }, async () => {
  for (const version of ['v1', 'v2']) {
    app.commit(version);
    assert.equal((await pier(app.dir, ['release', version])).code, 0);
  }
  assert.equal((await pier(app.dir, ['deploy', 'v1', '--window', '6', '--canary', '0'])).code, 0);

  const run = await deployHalfWay('v2');
  run.child.kill('SIGKILL');
  await run.exited;
  const file = run.journal;
  const id = path.basename(file).replace(/\.jsonl$/, '');
  const versions = fleet.hosts.map((h) => readlinkSync(path.join(h.opt as string, 'hello', 'current')));
  assert.ok(versions.includes('releases/v1') && versions.includes('releases/v2'), `half-way: ${versions}`);

  // The dead deploy's lock still holds: a new deploy is refused and told who holds it.
  const fresh = await pier(app.dir, ['deploy', 'v2']);
  assert.equal(fresh.code, 3);
  assert.match(fresh.stderr, new RegExp(`locked by .*\\(deploy ${id},`));

  const resumed = await pier(app.dir, ['deploy', '--resume']);
  assert.equal(resumed.code, 0, `${resumed.stdout}\n${resumed.stderr}`);
  assert.match(
    resumed.stdout,
    new RegExp(`^resuming v2 \\([0-9a-f]{12}\\) to 6 hosts in 3 data centers, deploy ${id}$`, 'm'),
  );
  assert.match(resumed.stdout, /deploy v2: done, 6\/6 hosts healthy/);
  const answers = await Promise.all(fleet.hosts.map((h) => fetchText(`http://${h.address}:8080/`)));
  assert.deepEqual(answers, Array(6).fill('Hello! from v2'));
  // ams-1 finished before the kill: it was not switched or restarted again.
  const log = readFileSync(path.join(fleet.host('ams-1').opt as string, 'hello', 'revisions.log'), 'utf8');
  assert.equal(log.match(/version=v2 /g)?.length, 1, log);
  assert.match(readFileSync(file, 'utf8'), /"type":"end","outcome":"done"/);
  for (const host of fleet.hosts)
    assert.equal(existsSync(path.join(host.opt as string, 'hello', '.pier-lock')), false);
  const again = await pier(app.dir, ['deploy', '--resume']);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /error\[FLEET_NOT_RESUMABLE\]: no interrupted deploy to resume/);
});

test('Ctrl-C mid-rollout: hosts in flight finish, locks are released, --resume converges', {
  timeout: 120_000,
}, async () => {
  app.commit('v3');
  assert.equal((await pier(app.dir, ['release', 'v3'])).code, 0);
  const run = await deployHalfWay('v3');
  run.child.kill('SIGINT');
  assert.equal(await run.exited, 130, run.output());
  assert.match(run.output(), /interrupted: finishing the hosts in flight/);
  assert.match(
    run.output(),
    /deploy v3: interrupted with \d\/6 hosts healthy; `pier deploy --resume` continues it/,
  );
  // Every host is whole: on v2 or on v3, each answering with its own version; no lock is left.
  for (const host of fleet.hosts) {
    const current = readlinkSync(path.join(host.opt as string, 'hello', 'current'));
    assert.ok(['releases/v2', 'releases/v3'].includes(current), `${host.name}: ${current}`);
    const version = current.replace('releases/', '');
    assert.equal(await fetchText(`http://${host.address}:8080/`), `Hello! from ${version}`);
    assert.equal(
      existsSync(path.join(host.opt as string, 'hello', '.pier-lock')),
      false,
      `${host.name} lock`,
    );
  }
  // status names the deploy that did not end, and the two ways on.
  const status = await pier(app.dir, ['status']);
  assert.match(
    status.stdout,
    /^unfinished: deploy \S+-v3-\S+ \(v3\) did not end; `pier deploy --resume` continues it, `pier rollback` undoes it$/m,
  );
  // Another controller holds the fleet lock: --resume is refused, and stays possible.
  const held = path.join(fleet.host('ams-1').opt as string, 'hello', '.pier-fleet-lock');
  placeForeignLock(held);
  const refused = await pier(app.dir, ['deploy', '--resume']);
  rmSync(held, { recursive: true, force: true });
  assert.equal(refused.code, 3, `${refused.stdout}\n${refused.stderr}`);
  assert.match(refused.stderr, /locked by ops@elsewhere/);
  const resumed = await pier(app.dir, ['deploy', '--resume']);
  assert.equal(resumed.code, 0, `${resumed.stdout}\n${resumed.stderr}`);
  assert.match(resumed.stdout, /deploy v3: done, 6\/6 hosts healthy/);
  assert.doesNotMatch((await pier(app.dir, ['status'])).stdout, /unfinished/);
  const answers = await Promise.all(fleet.hosts.map((h) => fetchText(`http://${h.address}:8080/`)));
  assert.deepEqual(answers, Array(6).fill('Hello! from v3'));
});

test('--resume of a deploy that a later rollback superseded is refused; its hosts stay as they are', {
  timeout: 120_000,
}, async () => {
  // Every host runs v3 (above). A v2 deploy is interrupted half-way, then the hosts it moved
  // are rolled back to v3: the v2 journal is left without an end, but it is stale.
  const run = await deployHalfWay('v2');
  run.child.kill('SIGINT');
  assert.equal(await run.exited, 130, run.output());
  const id = path.basename(run.journal).replace(/\.jsonl$/, '');
  const currentOf = (name: string) =>
    readlinkSync(path.join(fleet.host(name).opt as string, 'hello', 'current'));
  const moved = fleet.hosts.filter((h) => currentOf(h.name) === 'releases/v2').map((h) => h.name);
  assert.ok(moved.length >= 2, `hosts on v2: ${moved}`);
  const back = await pier(app.dir, ['rollback', '--to', 'v3', '--hosts', moved.join(',')]);
  assert.equal(back.code, 0, `${back.stdout}\n${back.stderr}`);
  const rollbackId = /rolling back .*, (\S+)$/m.exec(back.stdout)?.[1] as string;

  const fleetFile = path.join(app.dir, 'deploy', 'fleet.yml');
  const plain = readFileSync(fleetFile, 'utf8');
  const hookLog = path.join(fleet.dir, 'resume-hooks.log');
  writeFileSync(
    fleetFile,
    `${plain}hooks: ${JSON.stringify({ pre_deploy: `echo "pre $PIER_VERSION" >> ${hookLog}` })}\n`,
  );
  try {
    for (const args of [
      ['deploy', '--resume'],
      ['deploy', '--resume', id],
    ]) {
      const refused = await pier(app.dir, args);
      assert.equal(refused.code, 2, `${refused.stdout}\n${refused.stderr}`);
      assert.ok(
        refused.stderr.startsWith(
          `error[FLEET_NOT_RESUMABLE]: deploy ${id} (v2) was superseded by rollback ${rollbackId} (v3, done)\n`,
        ),
        refused.stderr,
      );
      assert.match(refused.stderr, /hint: .*`pier deploy v2` deploys v2 again/);
    }
    // The same hosts under another inventory file: that file has no run of its own to resume,
    // and the fleet.yml run is refused by name (journals record their file).
    const staging = path.join(app.dir, 'deploy', 'staging.yml');
    writeFileSync(staging, plain);
    const none = await pier(app.dir, ['deploy', '--resume', '-c', 'deploy/staging.yml']);
    assert.equal(none.code, 2, `${none.stdout}\n${none.stderr}`);
    assert.match(none.stderr, /^error\[FLEET_NOT_RESUMABLE\]: no interrupted deploy to resume\n/);
    const other = await pier(app.dir, ['deploy', '--resume', id, '-c', 'deploy/staging.yml']);
    assert.equal(other.code, 2, `${other.stdout}\n${other.stderr}`);
    assert.ok(
      other.stderr.startsWith(
        `error[FLEET_NOT_RESUMABLE]: deploy ${id} ran with deploy/fleet.yml, not deploy/staging.yml\n`,
      ),
      other.stderr,
    );
    assert.match(other.stderr, new RegExp(`hint: .*pier deploy --resume ${id} -c deploy/fleet.yml`));
    rmSync(staging);
  } finally {
    writeFileSync(fleetFile, plain);
  }
  assert.equal(existsSync(hookLog), false, 'pre_deploy did not run');
  for (const host of fleet.hosts) assert.equal(currentOf(host.name), 'releases/v3', host.name);
  const answers = await Promise.all(fleet.hosts.map((h) => fetchText(`http://${h.address}:8080/`)));
  assert.deepEqual(answers, Array(6).fill('Hello! from v3'));
});

test('a run whose host lock another run took over switches nothing there and starts no other host', {
  timeout: 120_000,
}, async () => {
  app.commit('v4');
  assert.equal((await pier(app.dir, ['release', 'v4'])).code, 0);
  const run = await deployHalfWay('v4');
  // What a second run does once this one was paused past lock_ttl: the last host's lock is now
  // someone else's (its own `deploy-<id>` file, its info).
  const last = fleet.hosts[fleet.hosts.length - 1] as (typeof fleet.hosts)[number];
  const lock = path.join(last.opt as string, 'hello', '.pier-lock');
  const aside = `${lock}.taken-over`;
  renameSync(lock, aside);
  placeForeignLock(lock);
  const code = await run.exited;
  rmSync(lock, { recursive: true, force: true });
  rmSync(aside, { recursive: true, force: true });
  assert.equal(code, 1, run.output());
  assert.match(run.output(), new RegExp(`${last.name} failed: this run no longer holds the host's lock`));
  assert.equal(readlinkSync(path.join(last.opt as string, 'hello', 'current')), 'releases/v3');
  assert.equal(await fetchText(`http://${last.address}:8080/`), 'Hello! from v3');
});
