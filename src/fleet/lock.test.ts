import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FleetError } from './errors.js';
import type { Host } from './inventory/inventory.js';
import { lockHostHint } from './lock.js';
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
