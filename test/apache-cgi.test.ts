// The seed's Demo 2 for real: Debian Apache with mod_cgid runs the Hello entry and the echo app
// as CGI scripts, enabled only by the repository's .htaccess (AllowOverride All).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EchoReport } from '../examples/echo/app.js';
import { type Apache, startApache } from './helpers/apache.js';
import { http } from './helpers/net.js';
import { echoApp, pierBin, repoRoot } from './helpers/paths.js';

const helloRoot = path.join(repoRoot, 'deploy/apache/www');

describe('Hello as CGI under Apache (deploy/apache/www)', () => {
  let apache: Apache;
  before(async () => {
    apache = await startApache(helloRoot);
  });
  after(() => apache.stop());

  test('GET / runs app.js through the .htaccess DirectoryIndex and answers Hello', async () => {
    const res = await http(`${apache.url}/`);
    assert.equal(res.status, 200, apache.log());
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(res.body.toString(), /^Hello! \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
  });
});

describe('the echo app as a `pier cgi` shebang script under Apache', () => {
  let apache: Apache;
  let docroot: string;
  before(async () => {
    docroot = mkdtempSync(path.join(tmpdir(), 'pier-docroot-'));
    chmodSync(docroot, 0o755);
    copyFileSync(path.join(helloRoot, '.htaccess'), path.join(docroot, '.htaccess'));
    writeFileSync(path.join(docroot, 'package.json'), '{"type":"module"}\n');
    // The app module is itself the CGI script: its shebang runs `pier cgi` on it.
    const script = path.join(docroot, 'echo.js');
    writeFileSync(script, `#!/usr/bin/env -S node ${pierBin} cgi\nexport { default } from '${echoApp}';\n`);
    chmodSync(script, 0o755);
    apache = await startApache(docroot);
  });
  after(async () => {
    await apache.stop();
    rmSync(docroot, { recursive: true, force: true });
  });

  const echo = async (res: { body: Buffer }): Promise<EchoReport> => JSON.parse(res.body.toString());

  test('GET with a query: path, raw and decoded query reach the app', async () => {
    const res = await http(`${apache.url}/echo.js/some/path?a=1&b=%20x%2F&a=2`);
    assert.equal(res.status, 200, apache.log());
    const report = await echo(res);
    assert.equal(report.method, 'GET');
    assert.equal(report.path, '/echo.js/some/path');
    assert.equal(report.rawQuery, 'a=1&b=%20x%2F&a=2');
    assert.deepEqual(report.query, { a: ['1', '2'], b: [' x/'] });
  });

  test('POST with a 1 MiB binary body arrives byte for byte', async () => {
    const body = randomBytes(1024 * 1024);
    const res = await http(`${apache.url}/echo.js`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(res.status, 200, apache.log());
    const report = await echo(res);
    assert.equal(report.bodyLength, body.length);
    assert.equal(report.bodySha256, createHash('sha256').update(body).digest('hex'));
    assert.equal(report.headers['content-type'], 'application/octet-stream');
  });

  test('a body over limit-post: the client gets the 413, not a reset (mod_cgid writes the whole body first)', async () => {
    const res = await http(`${apache.url}/echo.js`, {
      method: 'POST',
      body: Buffer.alloc(20 * 1024 * 1024),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(res.status, 413, apache.log());
    assert.match(res.body.toString(), /over the limit of 16777216 bytes/);
  });

  test('a 404 from the app is the status Apache sends', async () => {
    const res = await http(`${apache.url}/echo.js?status=404`);
    assert.equal(res.status, 404);
    assert.equal((await echo(res)).method, 'GET');
  });

  test('repeated header names: joined on the way in, kept apart on the way out', async () => {
    const res = await http(`${apache.url}/echo.js?cookie=a%3D1&cookie=b%3D2`, {
      headers: { 'x-dup': ['one', 'two'] },
    });
    assert.equal(res.status, 200);
    assert.equal((await echo(res)).headers['x-dup'], 'one, two');
    assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
  });
});
