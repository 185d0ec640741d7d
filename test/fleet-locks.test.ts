// The fleet lock on real hosts (network namespaces with sshd): an expired lock is taken over on
// a host that speaks German, a lock that cannot be released is reported instead of a "done",
// and a deploy cancelled with SIGTERM (a CI job) releases its locks and can be resumed.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type AppRepo, createAppRepo } from './helpers/fleet-app.js';
import { fetchText, pier } from './helpers/fleet-cli.js';
import { createTestFleet, leftovers, type TestFleet } from './helpers/fleet-hosts.js';
import { pierBin } from './helpers/paths.js';

let fleet: TestFleet;
let app: AppRepo;

before(async () => {
  fleet = await createTestFleet({ ams: 4 });
  app = createAppRepo();
  writeFileSync(path.join(app.dir, 'deploy', 'fleet.yml'), fleet.fleetYaml());
  // One host at a time with a bake: slow enough to act on a host while the others still run.
  writeFileSync(
    path.join(app.dir, 'deploy', 'fleet-slow.yml'),
    fleet.fleetYaml({ health: { bake: '1s' }, rollout: { canary: 1, window: 1, failure_budget: 0 } }),
  );
  for (const version of ['v1', 'v2', 'v3']) {
    app.commit(version);
    const result = await pier(app.dir, ['release', version]);
    assert.equal(result.code, 0, result.stderr);
  }
});

after(async () => {
  await fleet?.cleanup();
  app?.cleanup();
  if (fleet) assert.deepEqual(leftovers(fleet), []);
});

const lockDir = (name: string) => path.join(fleet.host(name).opt as string, 'hello', '.pier-lock');
const lockedHosts = () => fleet.hosts.filter((h) => existsSync(lockDir(h.name))).map((h) => h.name);
const answers = () => Promise.all(fleet.hosts.map((h) => fetchText(`http://${h.address}:8080/`)));
const reportOf = (stdout: string) =>
  JSON.parse(readFileSync(/report: (\S+)/.exec(stdout)?.[1] as string, 'utf8'));

/** Runs a command on the host through its sshd, as a login would (its environment, its shell). */
function overSsh(name: string, command: string): { code: number; stderr: string } {
  try {
    execFileSync(
      'ssh',
      [
        ...['-i', fleet.identity, '-o', `UserKnownHostsFile=${fleet.knownHosts}`, '-o', 'BatchMode=yes'],
        `root@${fleet.host(name).address}`,
        command,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' },
    );
    return { code: 0, stderr: '' };
  } catch (err) {
    const failed = err as { status: number; stderr: string };
    return { code: failed.status, stderr: failed.stderr };
  }
}

/** Starts `pier ARGS`; resolves once its output matches `ready`. */
async function startPier(args: string[], ready: RegExp) {
  const child = spawn(process.execPath, [pierBin, ...args], { cwd: app.dir });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!ready.test(output)) {
    if (Date.now() > deadline || child.exitCode !== null || child.signalCode !== null) {
      child.kill('SIGKILL');
      assert.fail(`pier ${args.join(' ')} never printed ${ready}: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { child, exited, output: () => output };
}

test('an expired lock on a host that speaks German is taken over', { timeout: 90_000 }, async () => {
  // ams-1's logins get a German environment. No de_DE locale is generated on these machines;
  // glibc still translates under C.UTF-8 when LANGUAGE asks for German.
  const host = fleet.host('ams-1');
  appendFileSync(path.join(host.dir, 'sshd_config'), 'SetEnv LANGUAGE=de LANG=C.UTF-8\n');
  await fleet.stopSsh('ams-1');
  await fleet.startSsh('ams-1');
  // The restarted sshd may still be coming up (ssh exits 255 on a connection failure).
  let german = overSsh('ams-1', 'mkdir /opt');
  for (let tries = 0; german.code === 255 && tries < 50; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    german = overSsh('ams-1', 'mkdir /opt');
  }
  assert.match(german.stderr, /Die Datei existiert bereits/, 'the host answers in German');

  // A controller that died an hour ago left its lock, expired since.
  mkdirSync(lockDir('ams-1'), { recursive: true });
  const expired = new Date(Date.now() - 3_600_000).toISOString();
  writeFileSync(
    path.join(lockDir('ams-1'), 'info'),
    `${JSON.stringify({ owner: 'bob@ci', deploy: 'D-dead', since: 'x', expires: expired })}\n`,
  );
  const result = await pier(app.dir, ['deploy', 'v1']);
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /deploy v1: done, 4\/4 hosts healthy/);
  assert.deepEqual(await answers(), Array(4).fill('Hello! from v1'));
  assert.deepEqual(lockedHosts(), []);
});

test('a lock that cannot be released is reported, never a "done"', { timeout: 90_000 }, async (t) => {
  // Once this deploy holds one host's lock, its directory is made immutable: renaming it away
  // (how a lock is released) fails there with EPERM, even for root, and nothing else does.
  const broken = 'ams-3';
  const mend = () => execFileSync('chattr', ['-i', lockDir(broken)], { stdio: 'ignore' });
  t.after(() => {
    if (existsSync(lockDir(broken))) mend();
  });
  const run = await startPier(['deploy', 'v2', '--config', 'deploy/fleet-slow.yml'], /deploy (\S+-v2-\S+)/);
  const id = /deploy (\S+-v2-\S+)/.exec(run.output())?.[1] as string;
  const deadline = Date.now() + 30_000;
  while (!existsSync(path.join(lockDir(broken), `deploy-${id}`))) {
    if (Date.now() > deadline) assert.fail(`${broken} was never locked by ${id}: ${run.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  execFileSync('chattr', ['+i', lockDir(broken)]);
  const code = await run.exited;
  const stdout = run.output();
  assert.equal(code, 4, stdout);
  assert.doesNotMatch(stdout, /: done/);
  assert.ok(
    stdout.includes(
      `deploy v2: 4/4 hosts healthy, but this deploy's lock remains on 1 host (${broken}): \`pier unlock --hosts ${broken}\` removes it`,
    ),
    stdout,
  );
  assert.match(
    stdout,
    new RegExp(`locks not released:\\n  ${broken}: releasing the lock failed \\(exit 1\\)`),
  );
  assert.deepEqual(
    reportOf(stdout).locksLeft.map((entry: { name: string }) => entry.name),
    [broken],
  );
  assert.deepEqual(lockedHosts(), [broken]);

  // The directory is mended; the hint is the fix.
  mend();
  const unlock = await pier(app.dir, ['unlock', '--hosts', broken]);
  assert.equal(unlock.code, 0, unlock.stderr);
  assert.match(unlock.stdout, new RegExp(`^${broken}: removed the lock of \\S+ \\(deploy \\S+-v2-`, 'm'));
  assert.deepEqual(lockedHosts(), []);
});

test('SIGTERM mid-rollout: hosts in flight finish, locks are released, --resume converges', {
  timeout: 120_000,
}, async () => {
  const run = await startPier(
    ['deploy', 'v3', '--config', 'deploy/fleet-slow.yml'],
    /^ams +\[.*\] [1-3]\/4 .*\b[1-3] healthy/m,
  );
  run.child.kill('SIGTERM');
  const code = await run.exited;
  assert.equal(code, 143, run.output());
  assert.match(run.output(), /interrupted: finishing the hosts in flight.*SIGTERM/);
  assert.match(
    run.output(),
    /deploy v3: interrupted with [1-3]\/4 hosts healthy; `pier deploy --resume` continues it/,
  );
  assert.deepEqual(lockedHosts(), []);
  const resumed = await pier(app.dir, ['deploy', '--resume', '--config', 'deploy/fleet-slow.yml']);
  assert.equal(resumed.code, 0, `${resumed.stdout}\n${resumed.stderr}`);
  assert.match(resumed.stdout, /deploy v3: done, 4\/4 hosts healthy/);
  assert.deepEqual(await answers(), Array(4).fill('Hello! from v3'));
  assert.deepEqual(lockedHosts(), []);
});

test('SIGHUP mid-rollback: the same, and the hosts not started are named', { timeout: 120_000 }, async () => {
  const run = await startPier(
    ['rollback', '--config', 'deploy/fleet-slow.yml'],
    /^ams +\[.*\] [1-3]\/4 .*\b[1-3] healthy/m,
  );
  run.child.kill('SIGHUP');
  assert.equal(await run.exited, 129, run.output());
  // When every host goes back to one release, the line names it (`--to v2`).
  const rest = /`pier rollback(?: --to v\d)? --hosts (\S+)` finishes it/.exec(run.output())?.[1];
  assert.ok(rest, run.output());
  assert.deepEqual(lockedHosts(), []);
  const finished = await pier(app.dir, ['rollback', '--config', 'deploy/fleet-slow.yml', '--hosts', rest]);
  assert.equal(finished.code, 0, `${finished.stdout}\n${finished.stderr}`);
  // Every host went back exactly once (ams-1 to v1: the broken shell above kept its v2 audit line).
  for (const [n, answer] of (await answers()).entries()) {
    const log = readFileSync(path.join(fleet.hosts[n]?.opt as string, 'hello', 'revisions.log'), 'utf8');
    assert.equal(log.match(/action=rollback .*result=healthy/g)?.length, 1, log);
    assert.match(answer, /^Hello! from v[12]$/);
  }
  assert.deepEqual(lockedHosts(), []);
});
