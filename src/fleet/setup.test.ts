import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Host } from './inventory/inventory.js';
import { type SetupHostResult, setupSummary } from './setup.js';

const host = (name: string) => ({ name, address: name, port: 22 }) as Host;
const result = (
  name: string,
  state: SetupHostResult['state'],
  changed: string[],
  error?: string,
): SetupHostResult => ({
  host: host(name),
  state,
  changed,
  lacking: [],
  error,
  code: error ? 'FLEET_SETUP' : undefined,
  hint: error ? 'put the file there' : undefined,
});

test('setup summary: a host that failed after changing something counts as changed too', () => {
  const text = setupSummary({
    check: false,
    interrupted: false,
    hosts: [
      result('a', 'failed', ['shared/storage'], 'shared/app.json: missing'),
      result('b', 'failed', ['shared/storage'], 'shared/app.json: missing'),
      result('c', 'unchanged', []),
    ],
  });
  assert.equal(
    text,
    [
      'changed:',
      '  shared/storage: 2 hosts (a, b)',
      'failures:',
      '  2 hosts: shared/app.json: missing',
      '    a, b',
      '    hint: put the file there',
      'setup: 2 hosts changed, 1 unchanged, 2 failed',
      '',
    ].join('\n'),
  );
});
