// What goes wrong on a real fleet, on real hosts (network namespaces with sshd): bad versions,
// a full disk, a host that is down, a changed host key, a held lock, and too many failures.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type AppRepo, createAppRepo } from './helpers/fleet-app.js';
import { fetchText, pier } from './helpers/fleet-cli.js';
import { createTestFleet, leftovers, type TestFleet } from './helpers/fleet-hosts.js';
import { pierBin } from './helpers/paths.js';

let fleet: TestFleet;
let app: AppRepo;
const blockers: ChildProcess[] = [];

before(async () => {
  // fra-2's /opt is a 48 KiB tmpfs: too small for any release.
  fleet = await createTestFleet({ ams: 2, fra: 2, sfo: 2 }, { fullDisk: ['fra-2'] });
  app = createAppRepo();
  writeFileSync(path.join(app.dir, 'deploy', 'fleet.yml'), fleet.fleetYaml({ health: { timeout: '2s' } }));
});

after(async () => {
  for (const blocker of blockers) blocker.kill('SIGKILL');
  await fleet?.cleanup();
  app?.cleanup();
  if (fleet) assert.deepEqual(leftovers(fleet), []);
});

const answer = (name: string) => fetchText(`http://${fleet.host(name).address}:8080/`);
const currentOf = (name: string) =>
  readlinkSync(path.join(fleet.host(name).opt as string, 'hello', 'current'));
const reportOf = (stdout: string) =>
  JSON.parse(readFileSync(/report: (\S+)/.exec(stdout)?.[1] as string, 'utf8'));

async function release(version: string): Promise<void> {
  app.commit(version);
  const result = await pier(app.dir, ['release', version]);
  assert.equal(result.code, 0, result.stderr);
}

test('a version with shell in it is refused before anything runs', { timeout: 90_000 }, async () => {
  const marker = path.join(fleet.dir, 'injected');
  for (const args of [
    ['deploy', `v1;touch ${marker}`],
    ['release', `v1;touch ${marker}`],
    ['rollback', '--to', `$(touch ${marker})`],
    ['deploy', '--dry-run', `v1 && touch ${marker}`],
  ]) {
    const result = await pier(app.dir, args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, /^error\[FLEET_BAD_VERSION\]: invalid version ".*touch/);
    assert.match(result.stderr, /hint: a version is 1-64 letters/);
    assert.doesNotMatch(result.stderr, /at .*\.js:\d+/, 'no stack trace');
  }
  // A fleet file with a misspelt key is bad input too: exit 2, the key named, no host contacted.
  const broken = path.join(fleet.dir, 'broken-fleet.yml');
  const fleetText = readFileSync(path.join(app.dir, 'deploy', 'fleet.yml'), 'utf8');
  writeFileSync(broken, fleetText.replace(/^health:/m, 'helth:'));
  const invalid = await pier(app.dir, ['deploy', 'v1', '--config', broken]);
  assert.equal(invalid.code, 2, invalid.stderr);
  assert.match(invalid.stderr, /^error\[FLEET_CONFIG\]: .* is not a valid fleet file:\n/);
  assert.match(invalid.stderr, /broken-fleet\.yml:\d+: helth: unknown key; did you mean "health"\?/);
  assert.equal(existsSync(marker), false);
  assert.equal(app.git('tag', '--list'), '');
  assert.equal(existsSync(path.join(app.dir, '.pier', 'deploys')), false, 'no deploy was started');
  assert.equal(
    existsSync(path.join(fleet.host('ams-1').opt as string, 'hello')),
    false,
    'no host was touched',
  );
});

test('a full disk fails in stage, and nothing is activated there', { timeout: 90_000 }, async () => {
  await release('v1');
  const result = await pier(app.dir, ['deploy', 'v1']);
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(
    result.stdout,
    /1 host: staging the artifact failed \(exit 1\): .*No space left on device\n {4}fra-2/,
  );
  assert.match(result.stdout, /deploy v1: done, 5\/6 hosts healthy/);
  for (const name of ['ams-1', 'ams-2', 'fra-1', 'sfo-1', 'sfo-2'])
    assert.equal(await answer(name), 'Hello! from v1');
  // Nothing half-written stays behind to keep the disk full, and `current` was never made.
  assert.equal(fleet.exec('fra-2', ['ls', '-A', '/opt/hello/releases']).trim(), '');
  assert.equal(
    fleet.exec('fra-2', ['sh', '-c', 'test -e /opt/hello/current && echo yes || echo no']).trim(),
    'no',
  );
  assert.match(await answer('fra-2'), /^error/);
});

test('one host down within the budget: the deploy finishes and reports it', { timeout: 90_000 }, async () => {
  await release('v2');
  await fleet.stopSsh('sfo-2');
  try {
    const result = await pier(app.dir, ['deploy', 'v2', '--failure-budget', '2']);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /1 host: cannot connect: connection refused \(ECONNREFUSED\)\n {4}sfo-2/);
    assert.match(result.stdout, /deploy v2: done, 4\/6 hosts healthy/);
    const report = reportOf(result.stdout);
    assert.deepEqual(
      report.hosts
        .filter((h: { state: string }) => h.state === 'failed')
        .map((h: { name: string; code: string }) => [h.name, h.code]),
      [
        ['fra-2', 'FLEET_REMOTE_COMMAND'],
        ['sfo-2', 'FLEET_SSH_CONNECT'],
      ],
    );
    for (const name of ['ams-1', 'ams-2', 'fra-1', 'sfo-1'])
      assert.equal(await answer(name), 'Hello! from v2');
    // status names the unreachable host's address and port it tried, as deploy does.
    const status = await pier(app.dir, ['status']);
    assert.ok(
      status.stdout.includes(
        `cannot connect: connection refused (ECONNREFUSED) at ${fleet.host('sfo-2').address}:22\n`,
      ),
      status.stdout,
    );
  } finally {
    await fleet.startSsh('sfo-2');
  }
});

test('a changed host key is refused with its fingerprint until trusted on purpose', {
  timeout: 90_000,
}, async () => {
  const fingerprint = await fleet.rekey('ams-2');
  const refused = await pier(app.dir, ['deploy', 'v2', '--failure-budget', '2']);
  assert.equal(refused.code, 0, `${refused.stdout}\n${refused.stderr}`);
  assert.ok(
    refused.stdout.includes(
      `1 host: host key changed: the host presented ssh-ed25519 ${fingerprint}, known_hosts has SHA256:`,
    ),
    refused.stdout,
  );
  // What to do about it, under the failure.
  assert.match(
    refused.stdout,
    /^ {4}hint: if the host was really reinstalled, check the fingerprint out of band and run: pier trust --replace ams-2$/m,
  );
  assert.match(refused.stdout, /deploy v2: done, 4\/6 hosts healthy/, 'sfo-2 is back and converged');
  assert.equal(currentOf('sfo-2'), 'releases/v2');

  const trust = await pier(app.dir, ['trust', 'ams-2']);
  assert.equal(trust.code, 1);
  assert.ok(trust.stdout.includes(`ams-2: changed-refused ssh-ed25519 ${fingerprint}`), trust.stdout);
  const replace = await pier(app.dir, ['trust', '--replace', '--hash', 'ams-2']);
  assert.equal(replace.code, 0, replace.stderr);
  assert.ok(replace.stdout.includes(`ams-2: replaced ssh-ed25519 ${fingerprint}`), replace.stdout);
  const known = readFileSync(fleet.knownHosts, 'utf8').trim().split('\n');
  assert.ok(
    known.every((line) => line.startsWith('|1|')),
    'still only hashed entries',
  );
  const converged = await pier(app.dir, ['deploy', 'v2', '--hosts', 'ams-2']);
  assert.equal(converged.code, 0, converged.stdout);
  assert.equal(await answer('ams-2'), 'Hello! from v2');
});

test('the fleet lock host with a changed key: refused before any host moves, with the key’s own hint', {
  timeout: 90_000,
}, async () => {
  // ams-1 is the first host in rollout order: the fleet lock lives there.
  const fingerprint = await fleet.rekey('ams-1');
  const fleetFile = path.join(app.dir, 'deploy', 'fleet.yml');
  const plain = readFileSync(fleetFile, 'utf8');
  const local = path.join(fleet.dir, 'lock-host-hooks.log');
  const hooks = {
    pre_deploy: `echo "pre $PIER_VERSION" >> ${local}`,
    post_deploy: `echo "post $PIER_OUTCOME \${PIER_REPORT:-no report}" >> ${local}`,
  };
  writeFileSync(fleetFile, `${plain}hooks: ${JSON.stringify(hooks)}\n`);
  const refused = await pier(app.dir, ['deploy', 'v2']);
  writeFileSync(fleetFile, plain);
  // pre_deploy ran, so post_deploy did too, told that nothing was deployed.
  assert.equal(readFileSync(local, 'utf8'), 'pre v2\npost refused no report\n');
  assert.equal(refused.code, 1, `${refused.stdout}\n${refused.stderr}`);
  assert.ok(
    refused.stderr.startsWith(
      `error[FLEET_LOCK_HOST]: cannot take the fleet lock on ams-1: host key changed: the host presented ssh-ed25519 ${fingerprint}`,
    ),
    refused.stderr,
  );
  // What to do about the key, not about a host that is down.
  assert.match(refused.stderr, /hint: .*pier trust --replace ams-1/);
  assert.doesNotMatch(refused.stderr, /bring it back/);
  const replace = await pier(app.dir, ['trust', '--replace', '--hash', 'ams-1']);
  assert.equal(replace.code, 0, replace.stderr);
  assert.equal((await pier(app.dir, ['deploy', 'v2'])).code, 0);
});

test('a second deploy is refused by the lock, naming who holds it; unlock clears a stale one', {
  timeout: 90_000,
}, async () => {
  // The first deploy bakes each host for 4 s, so it surely holds its locks while the second runs.
  // Its lock_ttl is 1 s: only its renewals keep the locks from looking abandoned.
  const slow = path.join(app.dir, 'deploy', 'fleet-slow.yml');
  writeFileSync(slow, `${fleet.fleetYaml({ health: { timeout: '2s', bake: '4s' } })}\nlock_ttl: 1s\n`);
  const first = spawn(
    process.execPath,
    [pierBin, 'deploy', 'v2', '--config', slow, '--hosts', 'ams-*', '--window', '2'],
    {
      cwd: app.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let firstOut = '';
  first.stdout.on('data', (chunk: Buffer) => {
    firstOut += chunk.toString();
  });
  const firstDone = new Promise<number | null>((resolve) => first.on('close', resolve));
  // The first deploy holds every lock once it prints progress.
  const deadline = Date.now() + 30_000;
  while (!/^(ams|fra|sfo) +\[/m.test(firstOut)) {
    if (Date.now() > deadline || first.exitCode !== null) {
      first.kill('SIGKILL');
      assert.fail(`the first deploy did not start: ${firstOut}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const id = /deploy (\S+-v2-\S+)/.exec(firstOut)?.[1] as string;
  // Well past the 1 s TTL the first deploy took its locks with.
  await new Promise((resolve) => setTimeout(resolve, 2500));
  assert.equal(first.exitCode, null, 'the first deploy is still running');
  const second = await pier(app.dir, ['deploy', 'v2', '--hosts', 'ams-1']);
  assert.equal(second.code, 3, second.stderr);
  assert.match(
    second.stderr,
    new RegExp(`^error\\[FLEET_LOCKED\\]: the fleet is locked by \\S+@\\S+ \\(deploy ${id}, since `),
  );
  assert.match(second.stderr, /hint: wait for that deploy to finish/);
  assert.equal(await firstDone, 0, firstOut);

  // A lock left by a controller that is gone for good: refused until `pier unlock`.
  const lockDir = path.join(fleet.host('fra-1').opt as string, 'hello', '.pier-lock');
  const expires = new Date(Date.now() + 3_600_000).toISOString();
  mkdirSync(lockDir);
  writeFileSync(
    path.join(lockDir, 'info'),
    `${JSON.stringify({ owner: 'alice@laptop', deploy: 'D-gone', since: 'x', expires })}\n`,
  );
  const fraBefore = readlinkSync(path.join(fleet.host('fra-1').opt as string, 'hello', 'current'));
  const refused = await pier(app.dir, ['deploy', 'v2']);
  // The fleet lock is free, so the deploy runs; fra-1's own lock keeps it out of that host.
  assert.notEqual(refused.code, 0, refused.stdout);
  assert.match(
    refused.stdout,
    /1 host: locked by alice@laptop \(deploy D-gone, since x, expires .*\)\n +fra-1\n/,
  );
  assert.equal(readlinkSync(path.join(fleet.host('fra-1').opt as string, 'hello', 'current')), fraBefore);
  for (const host of fleet.hosts.filter((h) => h.opt && h.name !== 'fra-1')) {
    assert.equal(
      existsSync(path.join(host.opt as string, 'hello', '.pier-lock')),
      false,
      `${host.name} lock released`,
    );
  }
  const unlock = await pier(app.dir, ['unlock']);
  assert.equal(unlock.code, 0, unlock.stderr);
  assert.match(unlock.stdout, /^fra-1: removed the lock of alice@laptop \(deploy D-gone/m);
  const after = await pier(app.dir, ['deploy', 'v2', '--hosts', 'fra-1']);
  assert.equal(after.code, 0, after.stdout);

  // The fleet lock of a controller gone for good, on the lock host (the first host in rollout order):
  // every run is refused before any host is touched, until `pier unlock` removes it too.
  const fleetLock = path.join(fleet.host('ams-1').opt as string, 'hello', '.pier-fleet-lock');
  mkdirSync(fleetLock);
  writeFileSync(
    path.join(fleetLock, 'info'),
    `${JSON.stringify({ owner: 'carol@ci', deploy: 'D-lost', since: 'y', expires })}\n`,
  );
  const blocked = await pier(app.dir, ['deploy', 'v2', '--hosts', 'sfo-1']);
  assert.equal(blocked.code, 3, blocked.stdout);
  assert.match(
    blocked.stderr,
    /error\[FLEET_LOCKED\]: the fleet is locked by carol@ci \(deploy D-lost, since y,/,
  );
  assert.match(blocked.stderr, /`pier unlock` removes the lock/);
  assert.equal(existsSync(path.join(fleet.host('sfo-1').opt as string, 'hello', '.pier-lock')), false);
  const cleared = await pier(app.dir, ['unlock', '--hosts', 'sfo-1']);
  assert.doesNotMatch(cleared.stdout, /fleet lock/, 'only unlocking its host removes the fleet lock');
  const unlockAll = await pier(app.dir, ['unlock']);
  assert.equal(unlockAll.code, 0, unlockAll.stderr);
  assert.match(unlockAll.stdout, /^fleet lock on ams-1: removed the lock of carol@ci \(deploy D-lost/m);
  assert.equal(existsSync(fleetLock), false);
  assert.equal((await pier(app.dir, ['deploy', 'v2', '--hosts', 'sfo-1'])).code, 0);
});

test('a host whose previous release fails too is reported down, not "back on" it, and the deploy exits 1', {
  timeout: 90_000,
}, async () => {
  // Every host runs v2. v3 answers 500 on /health; on sfo-1, v2 no longer starts either (as after
  // a migration the old code cannot run against): its module throws at import.
  app.commit('v3', { healthy: false });
  assert.equal((await pier(app.dir, ['release', 'v3'])).code, 0);
  const v2App = path.join(fleet.host('sfo-1').opt as string, 'hello', 'releases', 'v2', 'dist', 'app.mjs');
  const original = readFileSync(v2App, 'utf8');
  writeFileSync(v2App, `${original}\nthrow new Error('v2 cannot start');\n`);
  try {
    const result = await pier(app.dir, ['deploy', 'v3', '--hosts', 'sfo-1', '--canary', '0']);
    assert.equal(result.code, 1, result.stdout);
    assert.match(
      result.stdout,
      /1 host: health check failed after 2 s: http:\/\/127\.0\.0\.1:8080\/health answered 500, expected 200 \(returned to v2, but v2 fails its health check too: the app exited before its health check passed; see \/opt\/hello\/shared\/log\/hello\.log\)\n {4}sfo-1\n/,
    );
    assert.doesNotMatch(result.stdout, /back on v2/);
    assert.match(
      result.stdout,
      /^deploy v3: 0\/1 hosts healthy, but 1 host is left with no healthy release \(sfo-1\)$/m,
    );
    const report = reportOf(result.stdout);
    assert.deepEqual(
      report.hosts.map((h: { name: string; state: string; down: boolean }) => [h.name, h.state, h.down]),
      [['sfo-1', 'failed', true]],
    );
    assert.equal(currentOf('sfo-1'), 'releases/v2');
    assert.match(await answer('sfo-1'), /^error/);
  } finally {
    writeFileSync(v2App, original);
  }
  assert.equal((await pier(app.dir, ['deploy', 'v2', '--hosts', 'sfo-1'])).code, 0);
});

test('an app that answers, then exits during the bake, is reported as exited, with its log', {
  timeout: 90_000,
}, async () => {
  // v5 serves, then exits 1.5 s after it started: inside the 4 s bake.
  app.commit('v5');
  const version = path.join(app.dir, 'src', 'version.mjs');
  writeFileSync(version, `${readFileSync(version, 'utf8')}setTimeout(() => process.exit(3), 1500);\n`);
  app.git('commit', '-q', '-am', 'v5 exits after 1.5 s');
  assert.equal((await pier(app.dir, ['release', 'v5'])).code, 0);
  const baking = path.join(app.dir, 'deploy', 'fleet-bake.yml');
  writeFileSync(baking, fleet.fleetYaml({ health: { timeout: '2s', bake: '4s' } }));
  const result = await pier(app.dir, [
    'deploy',
    'v5',
    '--config',
    baking,
    '--hosts',
    'sfo-2',
    '--canary',
    '0',
  ]);
  assert.match(
    result.stdout,
    /1 host: the app exited before its health check passed; see \/opt\/hello\/shared\/log\/hello\.log \(back on v2\)/,
  );
  assert.doesNotMatch(result.stdout, /no HTTP answer/);
  assert.equal(currentOf('sfo-2'), 'releases/v2');
});
