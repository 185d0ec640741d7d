// The `manager: none` stop command, run by a real /bin/sh against real process groups on this
// machine: what a host does with it, without SSH.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
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
import { layoutOf } from '../src/fleet/commands/layout.js';
import { pidFile, type ServiceSpec, stopService } from '../src/fleet/commands/service.js';
import { render } from '../src/fleet/commands/shell.js';

const root = mkdtempSync(path.join(tmpdir(), 'pif-stop-'));
const layout = layoutOf(root);
mkdirSync(layout.shared);
const spec: ServiceSpec = {
  manager: 'none',
  name: 'hello',
  action: 'restart',
  command: ['sh', '-c', 'node server.mjs'],
  env: {},
  stop_timeout: 500,
};
const started: ChildProcess[] = [];

after(() => {
  for (const child of started) {
    if (child.pid && groupAlive(child.pid)) process.kill(-child.pid, 'SIGKILL');
  }
  rmSync(root, { recursive: true, force: true });
});

/** A process of the group still runs (a zombie, dead but not yet reaped by its parent, does not). */
function groupAlive(group: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === group && state !== 'Z') return true;
  }
  return false;
}

/** A shell leading its own process group with a child under it, as setsid starts the app. */
function startGroup(script: string): number {
  // In deploy_to, as a deploy starts the app (from current).
  const child = spawn('sh', ['-c', script], { cwd: root, detached: true, stdio: 'ignore' });
  started.push(child);
  return child.pid as number;
}

/** Runs the stop command; asynchronously, so this process reaps the group leader it started. */
function stop(
  stopSpec: ServiceSpec = spec,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; ms: number; stderr: string }> {
  const begun = Date.now();
  const child = spawn('/bin/sh', ['-c', render(stopService(layout, stopSpec))], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env,
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  return new Promise((resolve) => {
    child.on('close', (code) => resolve({ code, ms: Date.now() - begun, stderr }));
  });
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 200));

test('the group goes, not only the shell in the pidfile', async () => {
  // The shell forwards nothing: TERM to it alone would leave the child running.
  const leader = startGroup('sleep 60; true');
  await settle();
  writeFileSync(pidFile(layout, spec), `${leader}\n`);
  const result = await stop();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(groupAlive(leader), false);
  assert.equal(existsSync(pidFile(layout, spec)), false, 'the pidfile is removed');
});

test('a group that ignores TERM is killed after stop_timeout', async () => {
  const leader = startGroup(`trap '' TERM; sh -c "trap '' TERM; sleep 60"; true`);
  await settle();
  writeFileSync(pidFile(layout, spec), `${leader}\n`);
  const result = await stop();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(groupAlive(leader), false);
  // Not before stop_timeout (500 ms here); the stop does end (KILL), however busy the machine.
  assert.ok(result.ms >= 500, `killed after ${result.ms} ms, before stop_timeout`);
});

test('a pidfile naming a member of a group whose leader exited stops that whole group', async () => {
  // As an earlier pier left the app (start-stop-daemon --background, no setsid): its group leader
  // was a fork that exited.
  const memberFile = path.join(root, 'member');
  const leader = startGroup(`sh -c "sleep 60; true" & echo $! > ${memberFile}`);
  await settle();
  assert.equal(groupAlive(leader), true);
  writeFileSync(pidFile(layout, spec), readFileSync(memberFile));
  const result = await stop();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(groupAlive(leader), false);
});

/** Starts an app whose parent never waits for it; resolves with the app's pid once in the pidfile. */
async function startUnreaped(t: { after: (fn: () => void) => void }): Promise<number> {
  // The app's parent never waits for it (a container's PID 1 without an init does the same):
  // after TERM the app is a zombie, which still answers kill -0.
  const parent = spawn(
    'sh',
    ['-c', `setsid sleep 1000 & echo $! > ${pidFile(layout, spec)}; exec sleep 1000`],
    { cwd: root, detached: true, stdio: 'ignore' },
  );
  t.after(() => {
    if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
  });
  const written = () =>
    existsSync(pidFile(layout, spec)) && readFileSync(pidFile(layout, spec), 'utf8').trim() !== '';
  for (let tries = 0; !written() && tries < 100; tries++) await settle();
  return Number(readFileSync(pidFile(layout, spec), 'utf8'));
}

test('a group left as zombies nobody reaps is stopped, not reported as surviving SIGKILL', async (t) => {
  const app = await startUnreaped(t);
  const result = await stop();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(existsSync(pidFile(layout, spec)), false);
  assert.match(
    readFileSync(`/proc/${app}/stat`, 'utf8'),
    /\) Z /,
    'the app is a zombie its parent never reaped',
  );
});

test('a group gone during the stop is not confused with a new group given its number', async (t) => {
  // In a PID namespace of its own, where the next pid can be chosen (ns_last_pid): the app
  // ignores TERM and exits on its own during the stop; its pid is then given at once to a new
  // group leader elsewhere (another app being started). The stop must count the old group as
  // gone, and neither wait for nor KILL the new one.
  const work = mkdtempSync(path.join(tmpdir(), 'pif-reuse-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const stopScript = path.join(work, 'stop.sh');
  writeFileSync(stopScript, render(stopService(layout, { ...spec, stop_timeout: 3000 })));
  const pidfile = pidFile(layout, spec);
  const script = [
    `cd ${root}`,
    // The app: leads its own group, works in deploy_to, ignores TERM and exits after 1.2 s.
    `setsid sh -c 'trap "" TERM; exec sleep 1.2' </dev/null >/dev/null 2>&1 & app=$!`,
    `echo $app > ${pidfile}`,
    `sh ${stopScript} & stopper=$!`,
    'wait $app',
    'echo $((app - 1)) > /proc/sys/kernel/ns_last_pid',
    `cd ${work}`,
    'setsid sleep 30 </dev/null >/dev/null 2>&1 & other=$!',
    'wait $stopper; code=$?',
    'kill -0 $other 2>/dev/null && alive=yes || alive=no',
    'echo "app=$app other=$other stop=$code other_alive=$alive"',
    'kill -KILL $other 2>/dev/null; true',
  ].join('\n');
  const out = execFileSync('unshare', ['--pid', '--fork', '--mount-proc', '/bin/sh', '-c', script], {
    encoding: 'utf8',
  });
  const fields = Object.fromEntries(
    out
      .trim()
      .split(' ')
      .map((pair) => pair.split('=')),
  );
  assert.equal(fields.other, fields.app, `the new group leader got the app's pid: ${out}`);
  assert.equal(fields.stop, '0', out);
  assert.equal(fields.other_alive, 'yes', `the stop killed the new group that reused the pid: ${out}`);
});

test('a stale pidfile whose pid now names another process leaves that process alone', async (t) => {
  // The app died (a crash, a reboot) and its pid was given to an unrelated process, which runs
  // outside deploy_to: stopping the app must not signal it or its group.
  const other = spawn('sh', ['-c', 'exec sleep 1000'], { cwd: tmpdir(), detached: true, stdio: 'ignore' });
  t.after(() => {
    if (other.exitCode === null && other.signalCode === null) other.kill('SIGKILL');
  });
  writeFileSync(pidFile(layout, spec), `${other.pid}\n`);
  const result = await stop();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(existsSync(pidFile(layout, spec)), false, 'the stale pidfile is removed');
  await settle();
  assert.equal(groupAlive(other.pid as number), true, 'the unrelated process still runs');
});

test('nothing to stop: no pidfile, a stale pid, or garbage', async () => {
  rmSync(pidFile(layout, spec), { force: true });
  assert.equal((await stop()).code, 0);
  for (const content of ['999999999\n', 'not a pid\n', '1\n', '']) {
    writeFileSync(pidFile(layout, spec), content);
    const result = await stop();
    assert.equal(result.code, 0, `${JSON.stringify(content)}: ${result.stderr}`);
    assert.equal(existsSync(pidFile(layout, spec)), false);
  }
});
