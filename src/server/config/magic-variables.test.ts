import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type HostFacts, magicTable, PlaceholderError, placeholder } from './magic-variables.js';

const host: HostFacts = {
  hostname: () => 'web1',
  cpus: () => 4,
  uid: () => 1000,
  user: () => 'deploy',
  gid: () => 1001,
  group: () => 'www',
  cwd: '/srv',
  startedMs: 1_700_000_000_123,
  version: () => '0.1.0',
};

test("uWSGI's magic variables, for /etc/pier/app.ini given as ../etc/pier/app.ini from /srv", () => {
  const table = magicTable('../etc/pier/app.ini', 'uwsgi', host);
  const expand = (letters: string): string[] => [...letters].map((letter) => placeholder(letter, table));
  assert.deepEqual(expand('opsdenc'), [
    '../etc/pier/app.ini',
    '/etc/pier/app.ini',
    'app.ini',
    '/etc/pier/',
    'ini',
    'app',
    'pier',
  ]);
  assert.deepEqual(expand('OPSDENCX'), expand('opsdencx'));
  assert.deepEqual(expand('xvhkuUgG'), [
    '../etc/pier/app.ini:uwsgi',
    '/srv',
    'web1',
    '4',
    '1000',
    'deploy',
    '1001',
    'www',
  ]);
  assert.deepEqual(expand('tTV%['), ['1700000000', '1700000000123000', '0.1.0', '%', '\x1b']);
  assert.deepEqual(expand('01'), ['etc', 'pier']);
});

test('a file without an extension: %n is its name, %e empty', () => {
  const table = magicTable('/etc/pier/prod', 'pier', host);
  assert.equal(placeholder('n', table), 'prod');
  assert.equal(placeholder('e', table), '');
});

test('unknown letters, missing components and %(name) are errors', () => {
  const table = magicTable('/etc/app.ini', 'pier', host);
  assert.throws(() => placeholder('y', table), { message: 'unknown placeholder %y' });
  assert.throws(() => placeholder('3', table), PlaceholderError);
  assert.throws(() => placeholder('(', table), /\$\(NAME\) for an environment variable/);
});
