import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { appEntry } from './app-entry.js';

const root = mkdtempSync(path.join(tmpdir(), 'pier-app-entry-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A directory with the given files (name → content). */
function tree(name: string, files: Record<string, string>): string {
  const dir = path.join(root, name);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

test('a file is its own entry', () => {
  const dir = tree('file', { 'app.ts': '' });
  assert.equal(appEntry(path.join(dir, 'app.ts')), path.join(dir, 'app.ts'));
});

test('a directory: exports ".", conditions in key order, string exports, main, then index files', () => {
  const cases: Array<[string, Record<string, string>, string]> = [
    [
      'exports-string',
      { 'package.json': '{"exports":"./src/app.ts","main":"x.js"}', 'src/app.ts': '' },
      'src/app.ts',
    ],
    [
      'exports-dot',
      {
        'package.json':
          '{"exports":{".":{"types":"./a.d.ts","import":"./esm.js","require":"./cjs.js"},"./x":"./x.js"}}',
        'esm.js': '',
      },
      'esm.js',
    ],
    [
      'exports-conditions',
      { 'package.json': '{"exports":{"require":"./c.js","default":"./d.js"}}', 'd.js': '' },
      'd.js',
    ],
    ['main', { 'package.json': '{"name":"app","main":"server.js"}', 'server.js': '' }, 'server.js'],
    ['index-ts', { 'package.json': '{"name":"app"}', 'index.ts': '', 'index.js': '' }, 'index.ts'],
    ['index-mjs', { 'index.mjs': '' }, 'index.mjs'],
  ];
  for (const [name, files, expected] of cases) {
    const dir = tree(name, files);
    assert.equal(appEntry(dir), path.join(dir, expected), name);
  }
});

test('a directory that names no module: errors saying what was looked for', () => {
  assert.throws(
    () => appEntry(tree('empty', { 'app.ts': '' })),
    /empty is a directory with no app module: no package\.json "exports" or "main", and no index\.ts, index\.mts, index\.js, index\.mjs$/,
  );
  assert.throws(
    () => appEntry(tree('bad-main', { 'package.json': '{"main":"gone.js"}' })),
    /package\.json: "main" points at \S+gone\.js, which is not a file$/,
  );
  assert.throws(
    () => appEntry(tree('require-only', { 'package.json': '{"exports":{"require":"./c.js"}}', 'c.js': '' })),
    /"exports" has no "\." entry for import, node or default$/,
  );
  assert.throws(
    () => appEntry(tree('broken-json', { 'package.json': '{' })),
    /package\.json is not valid JSON/,
  );
});
