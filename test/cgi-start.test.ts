// What a CGI request loads. Apache starts a process per request, so whatever it loads is paid
// on every request (bench/cgi): the script `pier init` writes must answer Hello with its one
// bundled entry, without the CLI framework, the option registry, serve or fleet code, undici,
// node:http, node:net or streams (process.stdout on a pipe), or Node's ES module loader.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { cgiGetEnv } from './helpers/cgi-env.js';
import { repoRoot } from './helpers/paths.js';

const cgiEnv = { ...cgiGetEnv, SCRIPT_NAME: '/app.js' };

test('the generated app.js answers a GET loading only the CGI path', async () => {
  const work = mkdtempSync(path.join(tmpdir(), 'pier-cgi-start-'));
  const trace = path.join(work, 'trace');
  const www = path.join(repoRoot, 'deploy/apache/www');
  const tracer = path.join(repoRoot, 'dist/test/helpers/module-trace.cjs');
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
            NODE_OPTIONS: `--require ${tracer}`,
          },
        },
        (err, out, errText) => (err ? reject(new Error(`${err.message}\n${errText}`)) : resolve(out)),
      );
    });
    assert.match(stdout, /^Status: 200 OK\r\n[\s\S]*\r\n\r\nHello! \d{4}-/);
    const loaded = readFileSync(trace, 'utf8').split('\n');
    const files = loaded.filter((line) => line.startsWith('file://') && line !== pathToFileURL(tracer).href);
    // The entry bundle, with pier's Hello inside it; app.js is read, not loaded as a module.
    assert.deepEqual(files, [pathToFileURL(path.join(repoRoot, 'dist/src/server/cgi/main.cjs')).href]);
    const builtins = loaded.filter((line) => line.startsWith('NativeModule '));
    assert.ok(builtins.length > 0, 'the trace lists built-ins');
    for (const unwanted of [
      'NativeModule internal/deps/undici/undici',
      'NativeModule http',
      'NativeModule _http_server',
      'NativeModule net',
      'NativeModule stream',
      'NativeModule internal/modules/esm/module_job',
    ])
      assert.ok(!builtins.includes(unwanted), `a CGI request loaded ${unwanted}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

/** Runs `script` as Apache would for a GET of /, in its own directory; resolves with stdout. */
function runScript(script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      script,
      [],
      { cwd: path.dirname(script), env: { PATH: process.env.PATH ?? '', ...cgiEnv } },
      (err, out, errText) => (err ? reject(new Error(`${err.message}\n${errText}`)) : resolve(out)),
    );
  });
}

interface CgiEntry {
  compileBundle(cachedData?: Buffer): { cachedDataRejected?: boolean };
  readCodeCache(): Buffer | undefined;
  codeCache: string;
}

test('the CGI entry compiles its bundle from the code cache the build made', () => {
  const entry = createRequire(import.meta.url)(
    path.join(repoRoot, 'dist/src/server/cgi/main.cjs'),
  ) as CgiEntry;
  const cache = entry.readCodeCache();
  assert.ok(cache && cache.length > 10_000, `the build wrote a code cache at ${entry.codeCache}`);
  // V8 accepts the cache for this bundle under this Node: the functions a GET runs come
  // compiled from the file instead of compiled in each request's process.
  assert.equal(entry.compileBundle(cache).cachedDataRejected, false);
});

test('a CGI entry whose code cache is cut short or missing still answers, compiling as usual', async () => {
  // A copy of the built CGI entry and the Hello it serves, laid out as in dist/.
  const work = mkdtempSync(path.join(tmpdir(), 'pier-cgi-cache-'));
  try {
    const cgiDir = path.join(work, 'src/server/cgi');
    cpSync(path.join(repoRoot, 'dist/src/server/cgi'), cgiDir, { recursive: true });
    cpSync(path.join(repoRoot, 'dist/src/hello'), path.join(work, 'src/hello'), { recursive: true });
    const script = path.join(work, 'www/app.js');
    cpSync(path.join(repoRoot, 'deploy/apache/www/app.js'), script);
    writeFileSync(script, readFileSync(script, 'utf8').replaceAll('../../../dist/src/', '../src/'));
    const [cacheName] = readdirSync(cgiDir).filter((name) => name.endsWith('.v8cache'));
    assert.ok(cacheName, 'the build wrote a code cache');
    const cacheFile = path.join(cgiDir, cacheName);
    const hello = /^Status: 200 OK\r\n[\s\S]*\r\n\r\nHello! \d{4}-/;
    // A write cut short (a full disk): V8 finds the length wrong and refuses the cache.
    truncateSync(cacheFile, 4096);
    const entry = createRequire(import.meta.url)(path.join(cgiDir, 'main.cjs')) as CgiEntry;
    assert.equal(entry.compileBundle(entry.readCodeCache()).cachedDataRejected, true);
    assert.match(await runScript(script), hello);
    rmSync(cacheFile);
    assert.match(await runScript(script), hello);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('the CGI entry loads a TypeScript app and one with top-level await (through import())', async () => {
  const work = mkdtempSync(path.join(tmpdir(), 'pier-cgi-import-'));
  try {
    writeFileSync(
      path.join(work, 'app.ts'),
      "const greeting: string = 'typed hello';\nexport default { fetch: (): Response => new Response(greeting + '\\n') };\n",
    );
    writeFileSync(
      path.join(work, 'tla.mjs'),
      "const greeting = await Promise.resolve('awaited hello');\nexport default { fetch: () => new Response(greeting + '\\n') };\n",
    );
    for (const [app, body] of [
      ['app.ts', 'typed hello\n'],
      ['tla.mjs', 'awaited hello\n'],
    ]) {
      const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve) =>
        execFile(
          process.execPath,
          ['--preserve-symlinks-main', path.join(repoRoot, 'dist/src/server/cgi/main.cjs'), app as string],
          { cwd: work, env: { ...cgiEnv, PATH: process.env.PATH ?? '' } },
          (_err, out, err) => resolve({ stdout: out, stderr: err }),
        ),
      );
      assert.match(stdout, /^Status: 200 OK\r\n/, `${app}: ${stderr}`);
      assert.ok(stdout.endsWith(`\r\n\r\n${body}`), `${app}: ${stdout}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
