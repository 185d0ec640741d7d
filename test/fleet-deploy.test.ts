// pier release → deploy → rollback on six real hosts in three data centers (network namespaces
// with sshd, see helpers/fleet-hosts.ts), the app answering over HTTP through each host.
import assert from 'node:assert/strict';
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

let fleet: TestFleet;
let app: AppRepo;

before(async () => {
  fleet = await createTestFleet({ ams: 2, fra: 2, sfo: 2 });
  app = createAppRepo();
  // sfo is reached through a jump host (ams-1), like a data center behind a bastion.
  const jump = fleet.host('ams-1').address;
  writeFileSync(
    path.join(app.dir, 'deploy', 'fleet.yml'),
    fleet.fleetYaml({ dcVars: { sfo: { proxy_jump: `root@${jump}` } } }),
  );
});

after(async () => {
  await fleet?.cleanup();
  app?.cleanup();
  if (fleet) assert.deepEqual(leftovers(fleet), []);
});

async function answers(): Promise<string[]> {
  return Promise.all(fleet.hosts.map((host) => fetchText(`http://${host.address}:8080/`)));
}

const currentOf = (name: string) =>
  readlinkSync(path.join(fleet.host(name).opt as string, 'hello', 'current'));

async function release(version: string, healthy = true): Promise<void> {
  app.commit(version, { healthy });
  const result = await pier(app.dir, ['release', version]);
  assert.equal(result.code, 0, result.stderr);
}

test('deploy v1 then v2: every host answers with the new version', { timeout: 90_000 }, async () => {
  await release('v1');
  const first = await pier(app.dir, ['deploy', 'v1']);
  assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
  assert.match(first.stdout, /deploy v1: done, 6\/6 hosts healthy/);
  assert.deepEqual(await answers(), Array(6).fill('Hello! from v1'));

  await release('v2');
  const second = await pier(app.dir, ['deploy', 'v2']);
  assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
  assert.deepEqual(await answers(), Array(6).fill('Hello! from v2'));
  for (const host of fleet.hosts) {
    assert.equal(currentOf(host.name), 'releases/v2');
    const opt = path.join(host.opt as string, 'hello');
    assert.deepEqual(readdirSync(path.join(opt, 'releases')).sort(), ['v1', 'v2']);
    const log = readFileSync(path.join(opt, 'revisions.log'), 'utf8');
    assert.match(log, /deploy=\S+-v2-\S+ action=deploy version=v2 previous=v1 result=healthy by=/);
    assert.equal(existsSync(path.join(opt, '.pier-lock')), false, 'the lock is released');
  }
  // Per-DC progress lines and the summary table, not one line per host.
  assert.match(second.stdout, /^ams +\[#{20}\] 2\/2 +2 healthy$/m);
  assert.match(second.stdout, /^total +6 +6 +0 +0 +0 +0$/m);
  const reportFile = /report: (\S+)/.exec(second.stdout)?.[1] as string;
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  assert.equal(report.outcome, 'done');
  assert.equal(report.hosts.length, 6);
  // The relay: the artifact crossed from the controller once per data center.
  assert.equal(report.directUploads, 3);
});

test('status shows the version per host and no drift', { timeout: 90_000 }, async () => {
  const result = await pier(app.dir, ['status']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^sfo-2 +sfo +v2 +deploy v2 healthy/m);
  assert.match(result.stdout, /^fra +2 +v2: 2$/m);
  assert.match(result.stdout, /no drift: every reachable host runs v2/);
});

test('rollback returns every host to v1, and deploy v2 again needs no upload', {
  timeout: 90_000,
}, async () => {
  // A release no host holds: refused before anything moves, the locks released.
  const nowhere = await pier(app.dir, ['rollback', '--to', 'v9']);
  assert.equal(nowhere.code, 2, nowhere.stdout);
  assert.match(
    nowhere.stderr,
    /^error\[FLEET_NOT_STAGED\]: release v9 is on none of the 6 hosts pier read$/m,
  );
  assert.deepEqual(await answers(), Array(6).fill('Hello! from v2'));
  const back = await pier(app.dir, ['rollback']);
  assert.equal(back.code, 0, `${back.stdout}\n${back.stderr}`);
  // Every host went back to the same release: the outcome names it.
  assert.match(back.stdout, /^rollback v1: done, 6\/6 hosts healthy$/m);
  assert.deepEqual(await answers(), Array(6).fill('Hello! from v1'));
  assert.equal(currentOf('fra-2'), 'releases/v1');
  const again = await pier(app.dir, ['deploy', 'v2']);
  assert.equal(again.code, 0, again.stderr);
  const report = JSON.parse(readFileSync(/report: (\S+)/.exec(again.stdout)?.[1] as string, 'utf8'));
  assert.equal(report.directUploads, 0, 'v2 was still staged everywhere');
  assert.deepEqual(await answers(), Array(6).fill('Hello! from v2'));
  const to = await pier(app.dir, ['rollback', '--to', 'v1', '--dc', 'sfo']);
  assert.equal(to.code, 0, to.stderr);
  assert.deepEqual(await answers(), [...Array(4).fill('Hello! from v2'), 'Hello! from v1', 'Hello! from v1']);
  const drift = await pier(app.dir, ['status', '--json']);
  assert.deepEqual(JSON.parse(drift.stdout).drift, ['sfo-1', 'sfo-2']);
  assert.equal((await pier(app.dir, ['deploy', 'v2', '--dc', 'sfo'])).code, 0);
});

test('v3 fails its health check: the activated hosts return to v2, the rest never move', {
  timeout: 90_000,
}, async () => {
  await release('v3', false);
  const result = await pier(app.dir, [
    'deploy',
    'v3',
    '--canary',
    '0',
    '--window',
    '2',
    '--failure-budget',
    '0',
  ]);
  assert.equal(result.code, 1, result.stdout);
  // The first failure breaches the budget; the other host in the window, in flight then, fails
  // too, and the reason counts both.
  assert.match(
    result.stdout,
    /deploy v3: stopped and rolled back \(failure budget exceeded in the fleet: 2 failed, 0 allowed\)/,
  );
  assert.match(
    result.stdout,
    /2 hosts: health check failed after 4 s: http:\/\/127\.0\.0\.1:8080\/health answered 500, expected 200 \(back on v2\)/,
  );
  // What the app answered is in the hint (bodies differ from host to host; the message groups).
  assert.match(result.stdout, /\(back on v2\)\n {4}\S+, \S+\n {4}hint: its last answer: 500 "/);
  assert.deepEqual(await answers(), Array(6).fill('Hello! from v2'));
  for (const host of fleet.hosts) assert.equal(currentOf(host.name), 'releases/v2');
  const ams = readFileSync(path.join(fleet.host('ams-1').opt as string, 'hello', 'revisions.log'), 'utf8');
  assert.match(ams, /version=v3 previous=v2 result=failed/);
  const fra = readdirSync(path.join(fleet.host('fra-1').opt as string, 'hello', 'releases'));
  assert.ok(fra.includes('v3'), 'distribution ran ahead: v3 was staged in fra, never activated');
});

test('deploying again the release the hosts run, one host failing: the others stay on it, healthy', {
  timeout: 90_000,
}, async () => {
  // Every host runs v2 (above). ams-2's after_activate hook fails; ams-1, the canary, passes first.
  const fleetFile = path.join(app.dir, 'deploy', 'fleet.yml');
  const original = readFileSync(fleetFile, 'utf8');
  const marker = path.join(fleet.host('ams-2').opt as string, 'hello', 'fail-here');
  writeFileSync(fleetFile, `${original}hooks: {"after_activate": "test ! -e ../../fail-here"}\n`);
  writeFileSync(marker, '');
  try {
    const result = await pier(app.dir, ['deploy', 'v2', '--failure-budget', '0']);
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stdout, /it ran v2 before this deploy too/);
    assert.match(result.stdout, /deploy v2: stopped \(failure budget exceeded/);
    assert.doesNotMatch(result.stdout, /no previous release to return to|rolled back/);
    const report = JSON.parse(readFileSync(/report: (\S+)/.exec(result.stdout)?.[1] as string, 'utf8'));
    const state = (name: string) => report.hosts.find((h: { name: string }) => h.name === name)?.state;
    assert.equal(state('ams-1'), 'healthy');
    assert.equal(state('ams-2'), 'failed');
    assert.deepEqual(await answers(), Array(6).fill('Hello! from v2'));
    const log = readFileSync(path.join(fleet.host('ams-1').opt as string, 'hello', 'revisions.log'), 'utf8');
    assert.match(
      log.trim().split('\n').at(-1) as string,
      /action=deploy version=v2 previous=v2 result=healthy/,
    );
  } finally {
    writeFileSync(fleetFile, original);
    rmSync(marker, { force: true });
  }
});

test('retention keeps current, the previous good release and the most recently used ones', {
  timeout: 90_000,
}, async () => {
  await release('v4');
  const result = await pier(app.dir, ['deploy', 'v4']);
  assert.equal(result.code, 0, result.stderr);
  // keep_releases 3: v1 ran after v3 arrived; v3 never passed a health gate anywhere.
  for (const host of fleet.hosts) {
    const releases = readdirSync(path.join(host.opt as string, 'hello', 'releases')).sort();
    assert.deepEqual(releases, ['v1', 'v2', 'v4'], host.name);
  }
});

test('--dry-run prints waves and the exact commands, and touches nothing', { timeout: 90_000 }, async () => {
  const result = await pier(app.dir, [
    'deploy',
    'v4',
    '--dry-run',
    '--dc',
    'ams,fra',
    '--failure-budget',
    '2',
  ]);
  assert.equal(result.code, 0, result.stderr);
  // The command line's budget holds for the fleet and for each data center alike.
  assert.match(result.stdout, /^failure budget: 2 host\(s\) fleet-wide;/m);
  assert.match(result.stdout, /^ams: 2 hosts, window \d+, failure budget 2$/m);
  assert.match(result.stdout, /^fra: 2 hosts, window \d+, failure budget 2$/m);
  assert.match(result.stdout, /^plan: deploy v4 \([0-9a-f]{12}\) to 4 hosts in 2 data centers$/m);
  assert.match(result.stdout, /^ {2}canary: ams-1$/m);
  assert.match(result.stdout, /^ {2}wave 1: ams-2$/m);
  assert.match(
    result.stdout,
    /ln -sfn releases\/v4 \/opt\/hello\/current\.tmp && mv -T \/opt\/hello\/current\.tmp \/opt\/hello\/current/,
  );
  assert.match(
    result.stdout,
    /\/opt\/hello\/current \/opt\/hello\/shared\/log\/hello\.log node server\.mjs;.*exec \/usr\/bin\/setsid -- "\$@" \) &/s,
  );
  // service.env is shown as configured and travels on stdin, not in the start command.
  assert.match(result.stdout, /^environment: PORT=8080$/m);
  // A version that was never released has no plan to show.
  const missing = await pier(app.dir, ['deploy', 'v99', '--dry-run']);
  assert.equal(missing.code, 2, missing.stdout);
  assert.match(missing.stderr, /^error\[FLEET_NO_RELEASE\]: there is no release v99 \(no tag, no artifact\)/);
  assert.equal(missing.stdout, '');
});

test('a second rollback goes one release further back, never to the release the first left', {
  timeout: 90_000,
}, async () => {
  // Every host is on v4 with v1, v2 and v4 on disk (v3 failed its gate and was removed).
  const first = await pier(app.dir, ['rollback']);
  assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
  assert.deepEqual(await answers(), Array(6).fill('Hello! from v2'));
  const second = await pier(app.dir, ['rollback']);
  assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
  assert.deepEqual(await answers(), Array(6).fill('Hello! from v1'));
  // v4 comes back only when deployed again; then a rollback returns to what ran before it.
  assert.equal((await pier(app.dir, ['deploy', 'v4'])).code, 0);
  assert.equal((await pier(app.dir, ['rollback', '--dc', 'ams'])).code, 0);
  assert.deepEqual(await answers(), [...Array(2).fill('Hello! from v1'), ...Array(4).fill('Hello! from v4')]);
});

test('status says where the app does not run, though current names a release', {
  timeout: 90_000,
}, async () => {
  // The app on fra-2 stops (a crash, an OOM kill): current still names v4.
  const pidfile = path.join(fleet.host('fra-2').opt as string, 'hello', 'shared', 'hello.pid');
  const pid = Number(readFileSync(pidfile, 'utf8').trim());
  // The pid is the host's own (its PID namespace): killed from inside it, the group at once.
  fleet.exec('fra-2', ['sh', '-c', `kill -KILL -${pid}`]);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const status = await pier(app.dir, ['status']);
  assert.match(status.stdout, /^fra-2 +fra +v4 \(not running\) /m, status.stdout);
  assert.match(status.stdout, /; the app does not run on 1 host: fra-2$/m);
  const hosts = JSON.parse((await pier(app.dir, ['status', '--json'])).stdout).hosts as Array<{
    name: string;
    service?: string;
  }>;
  assert.equal(hosts.find((host) => host.name === 'fra-2')?.service, 'not running');
  assert.equal(hosts.find((host) => host.name === 'fra-1')?.service, 'running');
  // Deploying the release again starts it.
  assert.equal((await pier(app.dir, ['deploy', 'v4', '--dc', 'fra'])).code, 0);
  assert.doesNotMatch((await pier(app.dir, ['status'])).stdout, /not running|does not run/);
});

test('a switch that fails before current moves says the host is unchanged, and returns nothing', {
  timeout: 90_000,
}, async () => {
  // A directory where the link goes: `mv -T` cannot replace it, and current stays as it is.
  const root = path.join(fleet.host('fra-1').opt as string, 'hello');
  renameSync(path.join(root, 'current'), path.join(root, 'current.saved'));
  mkdirSync(path.join(root, 'current'));
  try {
    const result = await pier(app.dir, [
      'deploy',
      'v1',
      '--dc',
      'fra',
      '--canary',
      '0',
      '--failure-budget',
      '1',
    ]);
    // Within the failure budget: the deploy is done, with fra-1 listed as failed.
    assert.equal(result.code, 0, result.stdout);
    assert.match(result.stdout, /switching current failed \(exit 1\): mv: [^\n]*\(current unchanged\)/);
    assert.doesNotMatch(result.stdout, /no previous release to return to|back on/);
  } finally {
    rmSync(path.join(root, 'current'), { recursive: true, force: true });
    renameSync(path.join(root, 'current.saved'), path.join(root, 'current'));
  }
  assert.equal(await fetchText(`http://${fleet.host('fra-1').address}:8080/`), 'Hello! from v4');
});
