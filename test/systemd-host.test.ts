// The systemd test host itself (test/helpers/nspawn.ts): it boots with systemd as PID 1, has
// its static address on the test's bridge, runs commands through nsenter, lets a key log in
// over ssh, and leaves nothing behind when stopped.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Bridge, createBridge, type SystemdHost, startSystemdHost } from './helpers/nspawn.js';

describe('a systemd host booted with systemd-nspawn', () => {
  let bridge: Bridge;
  let host: SystemdHost;
  let keys: string;
  let bootMs = 0;
  before(async () => {
    keys = mkdtempSync(path.join(tmpdir(), 'pier-host-keys-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(keys, 'id')]);
    bridge = await createBridge('pisbr61', '10.251.61.1/24');
    const start = Date.now();
    host = await startSystemdHost({
      name: 'pis-host61',
      bridge: bridge.name,
      address: '10.251.61.2/24',
      authorizedKeys: [readFileSync(path.join(keys, 'id.pub'), 'utf8').trim()],
    });
    bootMs = Date.now() - start;
  });
  after(async () => {
    await host?.stop();
    await bridge?.remove();
    rmSync(keys, { recursive: true, force: true });
  });

  test('PID 1 is systemd, the hostname is the machine name, and boot is over', async () => {
    assert.equal((await host.run(['cat', '/proc/1/comm'])).trim(), 'systemd');
    assert.equal((await host.run(['hostname'])).trim(), 'pis-host61');
    assert.match((await host.run(['systemctl', 'is-system-running'])).trim(), /^(running|degraded)$/);
    const failed = await host.run(['systemctl', 'list-units', '--failed', '--plain', '--no-legend']);
    assert.equal(failed.trim(), '', `failed units: ${failed}`);
    process.stderr.write(`# systemd host booted in ${bootMs} ms\n`);
  });

  test('exec reports exit codes and output without throwing', async () => {
    const result = await host.exec(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual(result, { code: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  test('reachable at its static address over ssh with the given key', () => {
    const ssh = spawnSync(
      'ssh',
      [
        '-i',
        path.join(keys, 'id'),
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        `UserKnownHostsFile=${path.join(keys, 'known_hosts')}`,
        '-o',
        'BatchMode=yes',
        '-o',
        'ConnectTimeout=5',
        `root@${host.address}`,
        'cat /etc/hostname',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(ssh.status, 0, ssh.stderr);
    assert.equal(ssh.stdout.trim(), 'pis-host61');
  });

  test('stop shuts it down and removes its tree', async () => {
    const root = host.root;
    await host.stop();
    assert.equal(existsSync(root), false);
    assert.throws(() => process.kill(host.pid, 0));
  });
});
