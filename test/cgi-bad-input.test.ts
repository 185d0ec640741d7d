// `pier cgi` as a real child process fed hostile CGI environments: every case ends with a
// clear status, exactly one stderr line, no stack trace, and no hang.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { echoApp, pierBin, repoRoot } from './helpers/paths.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function pierCgi(
  app: string,
  env: Record<string, string>,
  stdin: Buffer | string = '',
  options: string[] = [],
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [pierBin, 'cgi', ...options, app], {
      env: { PATH: process.env.PATH ?? '', GATEWAY_INTERFACE: 'CGI/1.1', ...env },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    // The child may answer (413) without reading stdin; a broken pipe here is expected.
    child.stdin.on('error', () => {});
    child.stdin.end(stdin);
  });
}

function assertClearFailure(run: Run, status: number, message: RegExp): void {
  assert.notEqual(run.code, null, 'the process was killed: it hung');
  assert.match(run.stdout, new RegExp(`^Status: ${status} `), run.stdout);
  const lines = run.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one stderr line, got: ${run.stderr}`);
  assert.match(lines[0] ?? '', message);
  assert.doesNotMatch(run.stdout + run.stderr, /\n\s+at /, 'no stack trace');
}

/**
 * Writes `files` (path relative to a new temporary directory → source) and runs `check` with
 * each one's full path; the directory is removed afterwards.
 */
async function withAppFiles(
  files: Record<string, string>,
  check: (at: Record<string, string>) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pier-cgi-app-'));
  try {
    const at: Record<string, string> = {};
    for (const [name, source] of Object.entries(files)) {
      at[name] = path.join(dir, name);
      mkdirSync(path.dirname(at[name]), { recursive: true });
      writeFileSync(at[name], source);
    }
    await check(at);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs pier cgi writing `body` but never closing stdin, as a server may (RFC 3875 §4.2). */
function pierCgiStdinOpen(env: Record<string, string>, body: Buffer): Promise<Run & { ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [pierBin, 'cgi', echoApp], {
      env: { PATH: process.env.PATH ?? '', GATEWAY_INTERFACE: 'CGI/1.1', ...env },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString();
      resolve({ code, stdout, stderr: Buffer.concat(err).toString(), ms: Date.now() - started });
    });
    child.stdin.on('error', () => {});
    child.stdin.write(body);
  });
}

test('stdin left open past CONTENT_LENGTH: pier cgi reads exactly that much, answers and exits', async () => {
  const body = Buffer.alloc(1024 * 1024, 'a');
  const post = await pierCgiStdinOpen(
    { REQUEST_METHOD: 'POST', REQUEST_URI: '/up', CONTENT_LENGTH: String(body.length) },
    body,
  );
  assert.equal(post.code, 0, `pier cgi did not exit on its own (killed after ${post.ms} ms): ${post.stderr}`);
  assert.match(post.stdout, /^Status: 200 OK\r\n/);
  assert.match(post.stdout, /"bodyLength":1048576/);
  const get = await pierCgiStdinOpen({ REQUEST_METHOD: 'GET', REQUEST_URI: '/' }, Buffer.alloc(0));
  assert.equal(get.code, 0, `a GET with stdin open did not exit (killed after ${get.ms} ms)`);
  assert.match(get.stdout, /^Status: 200 OK\r\n/);
});

test('a bad option in the script line → 500 to the client, one line naming the option', async () => {
  const run = await pierCgi(echoApp, { REQUEST_METHOD: 'GET', REQUEST_URI: '/' }, '', [
    '--limit-post',
    'lots',
  ]);
  assertClearFailure(
    run,
    500,
    /^error\[CGI_USAGE\]: pier cgi: --limit-post: expected a size like 65536, 64k or 16m, got "lots"/,
  );
  assert.equal(run.code, 2);
  const unknown = await pierCgi(echoApp, { REQUEST_METHOD: 'GET', REQUEST_URI: '/' }, '', ['--limit', '1m']);
  assertClearFailure(unknown, 500, /unknown option "--limit" \(usage: pier cgi /);
});

test('missing REQUEST_METHOD → 500 naming the variable', async () => {
  assertClearFailure(await pierCgi(echoApp, { REQUEST_URI: '/' }), 500, /REQUEST_METHOD is not set/);
});

for (const length of ['-1', 'abc']) {
  test(`CONTENT_LENGTH=${length} → 400`, async () => {
    const run = await pierCgi(echoApp, { REQUEST_METHOD: 'POST', CONTENT_LENGTH: length }, 'x');
    assertClearFailure(run, 400, /CONTENT_LENGTH must be a non-negative integer/);
  });
}

test('a chunked body without CONTENT_LENGTH → 411, never an empty body', async () => {
  // uWSGI's cgi plugin hands the script the client's socket: the chunk-encoded bytes, no length.
  const run = await pierCgi(
    echoApp,
    { REQUEST_METHOD: 'POST', REQUEST_URI: '/up', HTTP_TRANSFER_ENCODING: 'chunked' },
    '5\r\nhello\r\n0\r\n\r\n',
  );
  assertClearFailure(run, 411, /Transfer-Encoding: chunked\) but no CONTENT_LENGTH/);
});

test('CONTENT_LENGTH larger than the body sent → 400, no hang', async () => {
  const run = await pierCgi(echoApp, { REQUEST_METHOD: 'POST', CONTENT_LENGTH: '1000' }, 'short');
  assertClearFailure(run, 400, /ended after 5 of 1000 bytes/);
});

test('a 20 MiB body → 413 before the app runs (the body is read only to be dropped)', async () => {
  const size = 20 * 1024 * 1024;
  const run = await pierCgi(
    echoApp,
    { REQUEST_METHOD: 'POST', CONTENT_LENGTH: String(size) },
    Buffer.alloc(size),
  );
  assertClearFailure(run, 413, /over the limit/);
});

test('a stray % in the query reaches the app as sent, as over HTTP (no 400)', async () => {
  const run = await pierCgi(echoApp, {
    REQUEST_METHOD: 'GET',
    REQUEST_URI: '/?q=100%&r=%E2%8',
    QUERY_STRING: 'q=100%&r=%E2%8',
  });
  assert.match(run.stdout, /^Status: 200 /, run.stdout + run.stderr);
  const report = JSON.parse(run.stdout.slice(run.stdout.indexOf('\r\n\r\n') + 4));
  assert.equal(report.rawQuery, 'q=100%&r=%E2%8');
  assert.deepEqual(report.query.q, ['100%']);
  assert.equal(run.stderr, '');
});

test('a Host that is not host[:port] → 400: it cannot change the path the app routes on', async () => {
  const run = await pierCgi(echoApp, { REQUEST_METHOD: 'GET', REQUEST_URI: '/users', HTTP_HOST: 'x\\admin' });
  assertClearFailure(run, 400, /the Host header "x\\\\admin" is not a valid host\[:port\]/);
});

test('a fetch function declaring two parameters, (request, env): a 500 that says why, never a hang', async () => {
  const files = {
    'returns.mjs': 'export default function handler(request, env) { return new Response("ok"); }\n',
    'rejects.mjs':
      'export default async function handler(request, env) { return new Response(new URL(request.url).pathname); }\n',
  };
  await withAppFiles(files, async (at) => {
    const env = { REQUEST_METHOD: 'GET', REQUEST_URI: '/abc' };
    assertClearFailure(
      await pierCgi(at['returns.mjs'] as string, env),
      500,
      /takes two parameters, so pier runs it as a Node \(req, res\) listener/,
    );
    assertClearFailure(await pierCgi(at['rejects.mjs'] as string, env), 500, /app error: Invalid URL/);
  });
});

test('an app module that is no handler → 500 saying what it exports, pointing at no file of pier', async () => {
  const files = {
    'named.mjs': 'export const fetch = () => new Response("x");\n',
    'number.mjs': 'export default 42;\n',
  };
  await withAppFiles(files, async (at) => {
    const env = { REQUEST_METHOD: 'GET', REQUEST_URI: '/' };
    const first = await pierCgi(at['named.mjs'] as string, env);
    assertClearFailure(first, 500, /named\.mjs: the module has no default export; export default an object/);
    assert.doesNotMatch(first.stderr, /\(at /, 'no place in pier named');
    assertClearFailure(
      await pierCgi(at['number.mjs'] as string, env),
      500,
      /the default export is a number \(42\), not a handler/,
    );
  });
});

for (const form of ['node', 'fetch']) {
  test(`a header value with CR/LF from a ${form} app → 500, nothing injected`, async () => {
    const app = path.join(repoRoot, `dist/test/fixtures/bad-header-${form}.js`);
    const run = await pierCgi(app, { REQUEST_METHOD: 'GET', REQUEST_URI: '/' });
    assertClearFailure(run, 500, /header/i);
    assert.doesNotMatch(run.stdout, /Injected/);
  });
}

test('an app path that does not exist → 500 and a line naming the path', async () => {
  const run = await pierCgi('/nonexistent/app.js', { REQUEST_METHOD: 'GET', REQUEST_URI: '/' });
  assertClearFailure(run, 500, /\/nonexistent\/app\.js does not exist/);
  assert.equal(run.code, 1, 'the script failed: not exit 0');
});

test('an app that throws while it loads → 500 and a line saying where it threw', async () => {
  const run = await pierCgi(path.join(repoRoot, 'dist/test/fixtures/broken-app.js'), {
    REQUEST_METHOD: 'GET',
    REQUEST_URI: '/',
  });
  assertClearFailure(
    run,
    500,
    /this release is broken: missing configuration \(at \S*\/broken-app\.js:2:\d+\)$/,
  );
  assert.equal(run.code, 1);
});

test('a TypeScript app module runs from source', async () => {
  const app = path.join(repoRoot, 'test/fixtures/typescript-app.ts');
  const run = await pierCgi(app, { REQUEST_METHOD: 'GET', REQUEST_URI: '/' });
  assert.equal(run.stderr, '');
  assert.match(run.stdout, /^Status: 200 OK\r\n[\s\S]*\r\n\r\ntyped hello$/);
});

test('a .ts app outside an ES module package runs: no package.json, or a CommonJS one', async () => {
  const app = "export default { fetch() { return new Response('x') } }\n";
  const files = { 'app.ts': app, 'cjs/package.json': '{"name":"cjs"}\n', 'cjs/app.ts': app };
  await withAppFiles(files, async (at) => {
    for (const file of ['app.ts', 'cjs/app.ts']) {
      const run = await pierCgi(at[file] as string, { REQUEST_METHOD: 'GET', REQUEST_URI: '/' });
      assert.equal(run.stderr, '', file);
      assert.match(run.stdout, /^Status: 200 OK\r\n[\s\S]*\r\n\r\nx$/, file);
    }
  });
});

test('an Express-style (req, res, next) listener answers through pier cgi', async () => {
  const app = path.join(repoRoot, 'dist/test/fixtures/node-listener.js');
  const run = await pierCgi(
    app,
    { REQUEST_METHOD: 'POST', REQUEST_URI: '/missing', CONTENT_LENGTH: '4' },
    'body',
  );
  assert.equal(run.stderr, '');
  assert.match(run.stdout, /^Status: 404 Not Found\r\n/);
  assert.match(run.stdout, /set-cookie: a=1\r\nset-cookie: b=2\r\n/i);
  assert.match(run.stdout, /"length":4/);
});
