// service.manager none on a real host (a network namespace with sshd): the command runs under a
// shell, so stopping the old release means stopping its whole process group, and a health URL
// that answers is not enough while the process pier started has already exited.
import assert from 'node:assert/strict';
import { readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type AppRepo, createAppRepo } from './helpers/fleet-app.js';
import { fetchText, pier } from './helpers/fleet-cli.js';
import { createTestFleet, leftovers, type TestFleet } from './helpers/fleet-hosts.js';

let fleet: TestFleet;
let app: AppRepo;

before(async () => {
  fleet = await createTestFleet({ ams: 1 });
  app = createAppRepo();
  // The users' setup: the app under `sh -c`, and a health check that any release passes.
  const yaml = fleet.fleetYaml({
    service: { command: ['sh', '-c', 'node server.mjs'] },
    health: { body: undefined, timeout: '3s' },
  });
  writeFileSync(path.join(app.dir, 'deploy', 'fleet.yml'), yaml);
});

after(async () => {
  await fleet?.cleanup();
  app?.cleanup();
  if (fleet) assert.deepEqual(leftovers(fleet), []);
});

const answer = () => fetchText(`http://${fleet.host('ams-1').address}:8080/`);
const currentOf = () => readlinkSync(path.join(fleet.host('ams-1').opt as string, 'hello', 'current'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function release(version: string): Promise<void> {
  app.commit(version);
  const result = await pier(app.dir, ['release', version]);
  assert.equal(result.code, 0, result.stderr);
}

/** The host's processes running server.mjs (node or its shell), as `pid pgid command line`. */
function appProcesses(): string[] {
  // The pattern is written so that this script's own command line does not match it.
  const script = [
    'for d in /proc/[0-9]*; do',
    'c=$(tr "\\0" " " < $d/cmdline 2>/dev/null) || continue;',
    'case $c in *server.mj[s]*) set -- $(sed "s/.*) //" $d/stat); echo "$d $3 $c";; esac;',
    'done',
  ].join(' ');
  return fleet
    .exec('ams-1', ['sh', '-c', script])
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => line.replace(/^\/proc\//, ''));
}

test('v1 → v2 under `sh -c`: v1 stops completely and v2 serves', { timeout: 90_000 }, async () => {
  await release('v1');
  const first = await pier(app.dir, ['deploy', 'v1']);
  assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
  assert.equal(await answer(), 'Hello! from v1');

  await release('v2');
  const second = await pier(app.dir, ['deploy', 'v2']);
  assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
  assert.match(second.stdout, /deploy v2: done, 1\/1 hosts healthy/);
  assert.equal(await answer(), 'Hello! from v2', 'the release pier calls healthy is the one serving');
  // One shell and its node, nothing of v1 left behind.
  assert.equal(appProcesses().length, 2, appProcesses().join('\n'));
});

test('an app that exits right after its start fails the host, even if something else answers', {
  timeout: 90_000,
}, async () => {
  // Something pier did not start holds the port: v1 started by hand, outside pier's pidfile.
  const running = appProcesses().map((line) => line.split(' ')[0] as string);
  fleet.exec('ams-1', ['sh', '-c', 'kill -KILL "$@"', 'kill', ...running]);
  for (let tries = 0; appProcesses().length > 0 && tries < 50; tries++) await sleep(100);
  fleet.exec('ams-1', [
    'sh',
    '-c',
    'cd /opt/hello/releases/v1 && PORT=8080 setsid node server.mjs </dev/null >/dev/null 2>&1 &',
  ]);
  for (let tries = 0; (await answer()) !== 'Hello! from v1' && tries < 50; tries++) await sleep(100);

  await release('v3');
  const result = await pier(app.dir, ['deploy', 'v3']);
  assert.equal(result.code, 1, result.stdout);
  assert.match(
    result.stdout,
    /the app exited after start; see \/opt\/hello\/shared\/log\/hello\.log/,
    'not healthy on the answer of a process pier did not start',
  );
  assert.equal(currentOf(), 'releases/v2');
  assert.match(fleet.exec('ams-1', ['cat', '/opt/hello/shared/log/hello.log']), /EADDRINUSE/);
});

test('an app that crashes at start fails its host as such, without waiting out the health timeout', {
  timeout: 90_000,
}, async () => {
  // Nothing else may answer on the port: the hand-started v1 of the test above goes.
  const running = appProcesses().map((line) => line.split(' ')[0] as string);
  if (running.length > 0) fleet.exec('ams-1', ['sh', '-c', 'kill -KILL "$@"', 'kill', ...running]);
  for (let tries = 0; appProcesses().length > 0 && tries < 50; tries++) await sleep(100);
  const fleetFile = path.join(app.dir, 'deploy', 'fleet.yml');
  // A release whose app dies at once, and a health timeout it would otherwise wait out.
  writeFileSync(
    fleetFile,
    fleet.fleetYaml({
      service: { command: ['sh', '-c', 'echo "cannot start: DATABASE_URL is not set" >&2; exit 1'] },
      health: { body: undefined, timeout: '30s' },
    }),
  );
  await release('v4');
  const result = await pier(app.dir, ['deploy', 'v4']);
  assert.equal(result.code, 1, result.stdout);
  assert.match(
    result.stdout,
    /the app exited before its health check passed; see \/opt\/hello\/shared\/log\/hello\.log/,
  );
  assert.doesNotMatch(result.stdout, /health check failed after 30 s/);
  assert.match(fleet.exec('ams-1', ['cat', '/opt/hello/shared/log/hello.log']), /DATABASE_URL is not set/);
  assert.equal(currentOf(), 'releases/v2');
});

test('a service step that fails on the way back too: the message says current is back, and that it failed', {
  timeout: 90_000,
}, async () => {
  writeFileSync(
    path.join(app.dir, 'deploy', 'fleet.yml'),
    fleet.fleetYaml({
      service: { command: ['sh', '-c', 'node server.mjs'] },
      health: { body: undefined, timeout: '3s' },
    }),
  );
  await release('v5');
  // The app's log cannot be opened (a directory in its place): every start is refused, v5's and
  // then v2's on the way back, while `current` moves both ways.
  const log = '/opt/hello/shared/log/hello.log';
  fleet.exec('ams-1', ['sh', '-c', 'rm -f "$1" && mkdir "$1"', 'sh', log]);
  try {
    const result = await pier(app.dir, ['deploy', 'v5']);
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stdout, /\(current is back on v2, but the service step failed there too: /);
    assert.equal(currentOf(), 'releases/v2');
  } finally {
    fleet.exec('ams-1', ['rmdir', log]);
  }
});
