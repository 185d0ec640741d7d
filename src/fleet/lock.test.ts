import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { render } from './commands/shell.js';
import { FleetError } from './errors.js';
import type { Host } from './inventory/inventory.js';
import { DeployLocks, lockHostHint } from './lock.js';
import { HostError, RemoteCommandError } from './ssh/errors.js';

const host: Host = {
  name: 'web-1',
  dc: 'ams',
  address: '10.0.0.1',
  internalAddress: '10.0.0.1',
  port: 22,
  user: 'deploy',
  deployTo: '/opt/app',
  proxyJump: undefined,
  sudo: false,
};

test('fleet lock host: the hint follows the cause', () => {
  // Down: move the lock elsewhere or bring the host back.
  const down = new HostError('FLEET_SSH_CONNECT', 'cannot connect: connection refused (ECONNREFUSED)');
  assert.match(lockHostHint(host, down), /bring it back, or put another host first/);
  // There, but the lock command failed (deploy_to missing or not writable): pier setup.
  const denied = new RemoteCommandError(
    'taking the lock',
    1,
    "mkdir: cannot create directory '/opt/app': Permission denied",
  );
  assert.match(lockHostHint(host, denied), /`pier setup` makes \/opt\/app on every host/);
  // Any other cause keeps its own hint.
  const key = new HostError('FLEET_HOST_KEY_UNKNOWN', 'unknown host key', { hint: 'run: pier trust web-1' });
  assert.equal(lockHostHint(host, key), 'run: pier trust web-1');
  assert.match(lockHostHint(host, new FleetError('X', 'no hint')), /bring it back/);
});

test("retake takes over the lock this deploy's earlier controller left, refuses another deploy's", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pier-retake-'));
  // A connection that runs each script in a local /bin/sh, as a host's shell would.
  const connection = {
    exec: (script: Parameters<typeof render>[0]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile('/bin/sh', ['-c', render(script)], (err, stdout, stderr) =>
          resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
        );
      }),
  } as unknown as Parameters<InstanceType<typeof DeployLocks>['retake']>[0];
  const local: Host = { ...host, deployTo: dir };
  const lock = (deploy: string) => ({ owner: 'me@ctl', deploy, since: 's', expires: '2099-01-01T00:00:00Z' });
  try {
    // The first controller of D1 took the lock and died (a second Ctrl-C leaves it).
    const dead = new DeployLocks(lock('D1'), []);
    await dead.retake(connection, local);
    // --resume of D1: a new controller, the same deploy.
    const resumed = new DeployLocks(lock('D1'), []);
    await resumed.retake(connection, local);
    assert.deepEqual(resumed.held(), [local]);
    // Another deploy is still refused.
    const other = new DeployLocks(lock('D2'), []);
    await assert.rejects(other.retake(connection, local), { code: 'FLEET_LOCKED', message: /deploy D1/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
