// What a CGI request loads. Apache starts a process per request, so whatever it loads is paid
// on every request (bench/cgi): the script `pier init` writes must answer without the CLI
// framework, the option registry, serve or fleet code, undici or node:http.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './helpers/paths.js';

const cgiEnv = {
  GATEWAY_INTERFACE: 'CGI/1.1',
  REQUEST_METHOD: 'GET',
  REQUEST_URI: '/',
  SCRIPT_NAME: '/app.js',
  SERVER_NAME: 'localhost',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
  HTTP_HOST: 'localhost',
  REMOTE_ADDR: '127.0.0.1',
};

test('the generated app.js answers a GET loading only the CGI path', async () => {
  const work = mkdtempSync(path.join(tmpdir(), 'pier-cgi-start-'));
  const trace = path.join(work, 'trace');
  const www = path.join(repoRoot, 'deploy/apache/www');
  try {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        path.join(www, 'app.js'),
        [],
        {
          cwd: www,
          env: {
            PATH: process.env.PATH ?? '',
            ...cgiEnv,
            PIER_MODULE_TRACE: trace,
            NODE_OPTIONS: `--import ${path.join(repoRoot, 'dist/test/helpers/module-trace.js')}`,
          },
        },
        (err, out, errText) => (err ? reject(new Error(`${err.message}\n${errText}`)) : resolve(out)),
      );
    });
    assert.match(stdout, /^Status: 200 OK\r\n[\s\S]*\r\n\r\nHello! \d{4}-/);
    const loaded = readFileSync(trace, 'utf8').split('\n');
    const ours = loaded.filter((line) => line.startsWith('file://'));
    assert.ok(
      ours.some((url) => url.endsWith('/dist/src/hello/hello.js')),
      ours.join('\n'),
    );
    for (const unwanted of [
      '/node_modules/commander/',
      '/dist/src/cli/',
      '/server/config/options',
      '/fleet/',
      '/serve-',
      '/http/',
    ])
      assert.deepEqual(
        ours.filter((url) => url.includes(unwanted)),
        [],
        `a CGI request loaded ${unwanted}`,
      );
    const builtins = loaded.filter((line) => line.startsWith('NativeModule '));
    assert.ok(builtins.length > 0, 'the trace lists built-ins');
    for (const unwanted of [
      'NativeModule internal/deps/undici/undici',
      'NativeModule http',
      'NativeModule _http_server',
    ])
      assert.ok(!builtins.includes(unwanted), `a CGI request loaded ${unwanted}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
