import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderConfigDocs } from './config-docs.js';
import { options } from './options.js';

test('docs/config.md is what the option registry renders (run `npm run docs` after changing options)', () => {
  const committed = readFileSync(new URL('../../../../docs/config.md', import.meta.url), 'utf8');
  assert.equal(committed, renderConfigDocs());
});

test('every option the app-server issue asks for is in the registry', () => {
  const names = new Set(options.map((o) => o.name));
  for (const name of [
    'http-socket',
    'socket',
    'fastcgi-socket',
    'app',
    'processes',
    'chdir',
    'env',
    'uid',
    'gid',
    'chmod-socket',
    'vacuum',
    'listen',
    'harakiri',
    'max-requests',
    'max-requests-delta',
    'reload-on-rss',
    'reload-mercy',
    'limit-post',
    'buffer-size',
    'uwsgi-allow-from',
    'stats',
    'logformat',
    'disable-logging',
    'pidfile',
  ]) {
    assert.ok(names.has(name), name);
  }
});
