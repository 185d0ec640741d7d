// The sudoers drop-in is derived from the deploy's own privileged commands: it names each exact
// command line (the release version as the only wildcard), and visudo accepts it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseSetupOutput } from './setup.js';
import { deployCommands, sudoersDropIn } from './sudoers.js';

const target = {
  user: 'deploy',
  deployTo: '/opt/hello',
  service: {
    manager: 'systemd' as const,
    name: 'hello',
    action: 'reload' as const,
    unit: 'deploy/systemd/hello.service',
    env: {},
    stop_timeout: 10_000,
  },
};

test('the drop-in lists exactly the commands a deploy runs through sudo', () => {
  const text = sudoersDropIn('hello', target) ?? '';
  assert.match(text, /^deploy ALL=\(root\) NOPASSWD: \\$/m);
  const rules = text
    .split('\n')
    .filter((line) => line.startsWith('    '))
    .map((line) => line.trim().replace(/,? \\$/, ''));
  assert.deepEqual(rules, [
    '/usr/bin/install -m 0644 /opt/hello/releases/*/deploy/systemd/hello.service /etc/systemd/system/hello.service.pier-tmp',
    '/usr/bin/mv -fT /etc/systemd/system/hello.service.pier-tmp /etc/systemd/system/hello.service',
    '/usr/bin/systemctl daemon-reload',
    '/usr/bin/systemctl reload-or-restart hello',
    '/usr/bin/systemctl restart hello',
    '/usr/bin/systemctl start hello',
    '/usr/bin/systemctl stop hello',
  ]);
  // A probe asks sudo about a real-looking command line, which the wildcard must cover.
  assert.equal(
    deployCommands(target, 'pier-check')[0]?.[3],
    '/opt/hello/releases/pier-check/deploy/systemd/hello.service',
  );
  assert.equal(
    sudoersDropIn('hello', { ...target, service: { ...target.service, manager: 'none' } }),
    undefined,
  );
});

test('visudo accepts the drop-in', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pier-sudoers-'));
  try {
    const file = path.join(dir, 'pier-hello');
    writeFileSync(file, sudoersDropIn('hello', target) ?? '', { mode: 0o440 });
    const result = spawnSync('/usr/sbin/visudo', ['-c', '-f', file], { encoding: 'utf8' });
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('setup output is read from its own marker lines only', () => {
  assert.deepEqual(
    parseSetupOutput('Welcome\npier-setup:ok:tool-tar\npier-setup:changed:unit-hello.service\n'),
    [
      { state: 'ok', id: 'tool-tar' },
      { state: 'changed', id: 'unit-hello.service' },
    ],
  );
});
