// App paths as users type them: a TypeScript file outside an ES module package, a package
// directory, and a directory that names no module (refused before anything starts).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { http } from './helpers/net.js';
import { repoRoot } from './helpers/paths.js';
import { serveFails, startServe } from './helpers/serve.js';

let root: string;
before(() => {
  root = mkdtempSync(path.join(tmpdir(), 'pier-app-paths-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function tree(name: string, files: Record<string, string>): string {
  const dir = path.join(root, name);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

async function body(app: string, cwd?: string): Promise<string> {
  const served = await startServe(['--http-socket', '127.0.0.1:0', '--app', app], { cwd });
  try {
    const res = await http(`${served.url}/`);
    assert.equal(res.status, 200, served.log());
    assert.doesNotMatch(served.log(), /app\.load-failed/);
    return res.body.toString();
  } finally {
    await served.stop();
  }
}

const oneLiner = "export default { fetch() { return new Response('x') } }\n";
// Imports a sibling without an extension and reads a typed value, as a small TS app does.
const withLib = {
  'app.ts':
    "import { greeting } from './lib';\nexport default { fetch: (): Response => new Response(greeting) };\n",
  'lib.ts': "export const greeting: string = 'from lib';\n",
};

describe('a .ts app outside an ES module package', () => {
  test('no package.json at all', async () => {
    const dir = tree('bare', { 'app.ts': oneLiner });
    assert.equal(await body(path.join(dir, 'app.ts')), 'x');
  });

  test('a package.json without "type", and one with "type": "commonjs"', async () => {
    const implicit = tree('implicit-cjs', { 'package.json': '{"name":"app"}\n', ...withLib });
    assert.equal(await body(path.join(implicit, 'app.ts')), 'from lib');
    const explicit = tree('explicit-cjs', {
      'package.json': '{"name":"app","type":"commonjs"}\n',
      ...withLib,
    });
    assert.equal(await body('app.ts', explicit), 'from lib');
  });
});

describe('a directory as the app', () => {
  test('resolved like a package: package.json main, else index.ts', async () => {
    const main = tree('with-main', {
      'package.json': '{"name":"app","main":"server.js","type":"module"}\n',
      'server.js': "export default () => new Response('main');\n",
    });
    assert.equal(await body(main), 'main');
    const index = tree('with-index', { 'index.ts': oneLiner });
    assert.equal(await body('with-index', root), 'x');
    assert.ok(index);
  });

  test('--app examples/echo (no package.json, no index): refused at config time, no worker started', async () => {
    const result = await serveFails(['--http-socket', '127.0.0.1:0', '--app', 'examples/echo'], {
      cwd: repoRoot,
    });
    assert.equal(result.code, 2, result.stderr);
    assert.equal(
      result.stderr.split('\n')[0],
      `error[CONFIG]: --app: app: ${path.join(repoRoot, 'examples/echo')} is a directory with no app module: no package.json "exports" or "main", and no index.ts, index.mts, index.js, index.mjs`,
    );
    assert.doesNotMatch(result.stderr, /worker\.spawn|Directory import/);
  });
});
