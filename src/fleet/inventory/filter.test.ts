import assert from 'node:assert/strict';
import { test } from 'node:test';
import { selectHosts } from './filter.js';
import type { Fleet, Host } from './inventory.js';

const host = (name: string): Host => ({ name, address: `${name}.example.test` }) as Host;
const fleet = {
  datacenters: [{ name: 'ams', hosts: [host('ams-1'), host('ams-2'), host('ams-[1:')] }],
} as unknown as Fleet;
const names = (hosts: string[]) => selectHosts(fleet, { hosts }).flatMap((dc) => dc.hosts.map((h) => h.name));

test('--hosts: ranges, globs, and brackets that are no range taken as the characters they are', () => {
  assert.deepEqual(names(['ams-[1:2]']), ['ams-1', 'ams-2']);
  assert.deepEqual(names(['ams-*']), ['ams-1', 'ams-2', 'ams-[1:']);
  // Was an INTERNAL error: "Invalid regular expression: /^ams-[1:$/i".
  assert.deepEqual(names(['ams-[1:']), ['ams-[1:']);
  assert.throws(() => names(['fra-[1:']), { code: 'FLEET_NO_HOSTS' });
});
