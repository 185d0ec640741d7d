// `pier serve` as users run it: a real master and workers, real signals, real load (wrk).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { type AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { EchoReport } from '../examples/echo/app.js';
import { http } from './helpers/net.js';
import { echoApp, helloBin, repoRoot } from './helpers/paths.js';
import { reloadsUnderLoad, serveFails, startServe } from './helpers/serve.js';

const fixture = (name: string): string => path.join(repoRoot, 'dist/test/fixtures', name);
const slowApp = fixture('slow-app.js');
const pidsOf = (log: string): number[] =>
  [...log.matchAll(/worker\.ready slot=\d+ pid=(\d+)/g)].map((m) => Number(m[1]));
/** Writes raw bytes, returns whatever the server answers before closing. */
function rawExchange(address: string, request: string): Promise<string> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const socket = connect(Number(port), host);
    let reply = '';
    socket.on('data', (data) => {
      reply += data.toString('latin1');
      if (/\r\n\r\n/.test(reply)) socket.destroy();
    });
    socket.on('error', () => resolve(reply));
    socket.on('close', () => resolve(reply));
    socket.write(request);
  });
}
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('HTTP', () => {
  test('serves Hello and the echo app; HEAD, big chunked bodies, limits', async () => {
    const hello = await startServe([
      '--http-socket',
      '127.0.0.1:0',
      '--app',
      path.join(repoRoot, 'dist/src/hello/hello.js'),
    ]);
    try {
      const res = await http(`${hello.url}/`);
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      assert.match(res.body.toString(), /^Hello! \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
    } finally {
      await hello.stop();
    }
    assert.ok(existsSync(helloBin));

    const echo = await startServe([
      '--http-socket',
      '127.0.0.1:0',
      '--app',
      echoApp,
      '--limit-post',
      '6m',
      '--buffer-size',
      '8k',
    ]);
    try {
      const body = randomBytes(5 * 1024 * 1024);
      const posted = await http(`${echo.url}/up?x=%20y`, { method: 'POST', body, chunked: true });
      assert.equal(posted.status, 200);
      const report = JSON.parse(posted.body.toString()) as EchoReport;
      assert.equal(report.bodyLength, body.length);
      assert.equal(report.bodySha256, createHash('sha256').update(body).digest('hex'));
      assert.deepEqual(report.query, { x: [' y'] });

      const head = await http(`${echo.url}/`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);

      // Over limit-post: answered 413 as soon as the head says so, before the body is read.
      const tooBig = await rawExchange(
        echo.addresses[0]?.address ?? '',
        `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${7 * 1024 * 1024}\r\n\r\n`,
      );
      // RFC 9110's reason phrase, the one the body says too.
      assert.match(tooBig, /^HTTP\/1\.1 413 Content Too Large\r\n[\s\S]*\r\n\r\n413 Content Too Large\n$/);
      const chunk = `${(1024 * 1024).toString(16)}\r\n${'a'.repeat(1024 * 1024)}\r\n`;
      const tooBigChunked = await rawExchange(
        echo.addresses[0]?.address ?? '',
        `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.repeat(7)}`,
      );
      assert.match(tooBigChunked, /^HTTP\/1\.1 413 /);
      // One warning for it, and its access line names the client (its socket is gone by then).
      await echo.waitForLog(/chunked request body passed limit-post/);
      assert.equal(echo.log().match(/chunked request body passed limit-post/g)?.length, 1, echo.log());
      assert.match(echo.output(), /^127\.0\.0\.1 - - \[[^\]]+\] "POST \/ HTTP\/1\.1" 413 /m);

      const huge = await http(`${echo.url}/`, { headers: { 'x-big': 'a'.repeat(10_000) } });
      assert.equal(huge.status, 431);
      const cookies = await http(`${echo.url}/?cookie=a%3D1&cookie=b%3D2`);
      assert.deepEqual(cookies.headers['set-cookie'], ['a=1', 'b=2']);
      // The server survived all of it.
      assert.equal((await http(`${echo.url}/`)).status, 200);
      assert.match(echo.log(), /over limit-post/);
    } finally {
      await echo.stop();
    }
  });

  test('writes a combined access log line per request, or JSON', async () => {
    const served = await startServe([
      '--http-socket',
      '127.0.0.1:0',
      '--app',
      slowApp,
      '--logformat',
      'json',
    ]);
    try {
      await http(`${served.url}/pid`, { headers: { 'user-agent': 'pier-test' } });
      await sleep(100);
      const line = JSON.parse(served.output().trim().split('\n').at(-1) ?? '{}');
      assert.equal(line.event, 'request');
      assert.equal(line.method, 'GET');
      assert.equal(line.target, '/pid');
      assert.equal(line.status, 200);
      assert.equal(line.userAgent, 'pier-test');
    } finally {
      await served.stop();
    }
  });

  test('the access log counts the body bytes of a Node listener and of the answers pier writes', async () => {
    const listener = path.join(repoRoot, 'dist/bench/serve/node-listener.js');
    const served = await startServe(['--http-socket', '127.0.0.1:0', '--app', listener]);
    try {
      const res = await http(`${served.url}/`);
      assert.equal(res.status, 200);
      // An HTTP/1.1 request without Host: pier answers 400 itself.
      const refused = await rawExchange(served.addresses[0]?.address ?? '', 'GET /nohost HTTP/1.1\r\n\r\n');
      assert.match(refused, /^HTTP\/1\.1 400 /);
      await sleep(100);
      assert.match(served.output(), new RegExp(`"GET / HTTP/1\\.1" 200 ${res.body.length} `));
      assert.match(served.output(), /"GET \/nohost HTTP\/1\.1" 400 16 /);
    } finally {
      await served.stop();
    }
  });
});

describe('process model', () => {
  test('10 SIGHUPs under load: zero failed requests, every worker replaced', async () => {
    const served = await startServe([
      '--http-socket',
      '127.0.0.1:0',
      '--app',
      slowApp,
      '--processes',
      '2',
      '--disable-logging',
      'true',
    ]);
    try {
      const before = pidsOf(served.log());
      const result = await reloadsUnderLoad(served, 10);
      assert.ok(result.requests > 1000, `only ${result.requests} requests under load`);
      assert.equal(result.non2xx, 0, result.raw);
      assert.equal(result.socketErrors, 0, result.raw);
      const after = pidsOf(served.log()).slice(before.length);
      assert.equal(after.length, 20, 'two new workers per reload');
      assert.ok(!after.some((pid) => before.includes(pid)));
    } finally {
      await served.stop();
    }
  });

  test('a SIGKILLed worker is replaced and the master keeps serving', async () => {
    const served = await startServe(['--http-socket', '127.0.0.1:0', '--app', slowApp, '--processes', '2']);
    try {
      const [victim] = pidsOf(served.log());
      process.kill(victim ?? 0, 'SIGKILL');
      await served.waitForLog(new RegExp(`worker\\.exit slot=\\d pid=${victim} signal=SIGKILL`));
      await served.waitForLog(/worker\.ready[^\n]*\n[\s\S]*worker\.ready[^\n]*\n[\s\S]*worker\.ready/);
      for (let i = 0; i < 20; i++) assert.equal((await http(`${served.url}/pid`)).status, 200);
    } finally {
      await served.stop();
    }
  });

  test('harakiri: a slow request gets 504 and its worker lives; a spinning one gets 504 and its worker is replaced', async () => {
    const served = await startServe([
      '--http-socket',
      '127.0.0.1:0',
      '--app',
      slowApp,
      '--processes',
      '2',
      '--harakiri',
      '1',
    ]);
    try {
      const slow = await http(`${served.url}/sleep?ms=3000`);
      assert.equal(slow.status, 504);
      assert.doesNotMatch(served.log(), /worker\.exit/);
      const started = Date.now();
      const spun = await http(`${served.url}/spin?n=1`, { headers: { 'user-agent': 'spin-test' } });
      assert.equal(spun.status, 504);
      assert.ok(Date.now() - started < 4000, 'answered within harakiri plus the watchdog grace');
      await served.waitForLog(/worker\.harakiri/);
      // The watchdog thread writes the access line the stuck main thread cannot.
      assert.match(
        served.output(),
        /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/spin\?n=1 HTTP\/1\.1" 504 20 "-" "spin-test" \d+\.\d{3}ms$/m,
      );
      await served.waitForLog(/worker\.exit slot=\d pid=\d+ signal=SIGKILL[\s\S]*worker\.ready/);
      assert.equal((await http(`${served.url}/`)).status, 200);
    } finally {
      await served.stop();
    }
  });

  test('10,000 malformed requests: 400s, then the fds and the master memory come back', async () => {
    const served = await startServe([
      '--http-socket',
      '127.0.0.1:0',
      '--app',
      slowApp,
      '--processes',
      '2',
      '--disable-logging',
      'true',
    ]);
    try {
      const [host, port] = served.addresses[0]?.address.split(':') ?? [];
      const workerPids = pidsOf(served.log());
      const fds = (): number =>
        [served.pid, ...workerPids].reduce((n, pid) => n + readdirSync(`/proc/${pid}/fd`).length, 0);
      const rss = (): number =>
        Number(readFileSync(`/proc/${served.pid}/statm`, 'utf8').split(' ')[1]) * 4096;
      const fdsBefore = fds();
      const rssBefore = rss();
      let answered400 = 0;
      const one = (): Promise<void> =>
        new Promise((resolve) => {
          const socket = connect(Number(port), host);
          let reply = '';
          socket.on('data', (chunk) => {
            reply += chunk.toString();
          });
          socket.on('error', () => resolve());
          socket.on('close', () => {
            if (reply.startsWith('HTTP/1.1 400')) answered400++;
            resolve();
          });
          socket.end('GET /\x00bad HTTP/1.1\r\nHost: x\r\n\r\n');
        });
      for (let batch = 0; batch < 200; batch++) await Promise.all(Array.from({ length: 50 }, one));
      assert.equal(answered400, 10_000);
      await sleep(500);
      assert.ok(fds() <= fdsBefore + 2, `fds ${fdsBefore} → ${fds()}`);
      assert.ok(rss() < rssBefore + 8 * 1024 * 1024, `master rss ${rssBefore} → ${rss()}`);
      assert.equal((await http(`${served.url}/`)).status, 200);
    } finally {
      await served.stop();
    }
  });

  test('max-requests recycles workers without failing a request', async () => {
    const served = await startServe([
      '--http-socket',
      '127.0.0.1:0',
      '--app',
      slowApp,
      '--processes',
      '2',
      '--max-requests',
      '100',
      '--max-requests-delta',
      '20',
    ]);
    try {
      const before = pidsOf(served.log());
      for (let i = 0; i < 300; i++) assert.equal((await http(`${served.url}/pid`)).status, 200);
      await served.waitForLog(/worker\.recycle[^\n]*max-requests[\s\S]*worker\.ready[\s\S]*worker\.exit/);
      assert.ok(pidsOf(served.log()).length > before.length);
    } finally {
      await served.stop();
    }
  });

  test('SIGHUP during max-requests recycles: one worker per slot once they settle', async () => {
    const served = await startServe([
      '--http-socket',
      '127.0.0.1:0',
      '--app',
      slowApp,
      '--processes',
      '1',
      '--max-requests',
      '5',
    ]);
    // The master's children: its workers (a JS app starts no other process).
    const workers = (): string[] =>
      readFileSync(`/proc/${served.pid}/task/${served.pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean);
    try {
      // A recycle is under way most of the time (every 5 requests), so each SIGHUP meets one.
      for (let i = 0; i < 150; i++) {
        assert.equal((await http(`${served.url}/pid`)).status, 200);
        if (i % 40 === 20) served.signal('SIGHUP');
      }
      let count = workers().length;
      for (let waited = 0; count !== 1 && waited < 15_000; waited += 250) {
        await sleep(250);
        count = workers().length;
      }
      assert.equal(count, 1, `workers for processes=1: ${workers().join(', ')}\n${served.log()}`);
      assert.equal((await http(`${served.url}/pid`)).status, 200);
    } finally {
      await served.stop();
    }
  });

  test('SIGTERM lets in-flight requests finish; SIGQUIT stops at once', async () => {
    const served = await startServe(['--http-socket', '127.0.0.1:0', '--app', slowApp]);
    const pending = http(`${served.url}/sleep?ms=800`);
    await sleep(200);
    served.signal('SIGTERM');
    const res = await pending;
    assert.equal(res.status, 200);
    assert.equal(await served.stop(), 0);

    const fast = await startServe(['--http-socket', '127.0.0.1:0', '--app', slowApp]);
    const started = Date.now();
    fast.signal('SIGQUIT');
    assert.equal(await fast.stop(), 0);
    assert.ok(Date.now() - started < 1000, 'down within a second');
  });
});

describe('deploys and bad releases', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pier-release-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('switching a current symlink and sending SIGHUP serves the new release; a broken one is refused', async () => {
    const link = (target: string): void => {
      symlinkSync(target, path.join(dir, 'current.tmp'));
      renameSync(path.join(dir, 'current.tmp'), path.join(dir, 'current.js'));
    };
    link(path.join(repoRoot, 'dist/src/hello/hello.js'));
    const served = await startServe([
      '--http-socket',
      '127.0.0.1:0',
      '--app',
      path.join(dir, 'current.js'),
      '--processes',
      '2',
    ]);
    try {
      assert.match((await http(`${served.url}/`)).body.toString(), /^Hello!/);
      link(slowApp);
      served.signal('SIGHUP');
      await served.waitForLog(/reload\.done/);
      assert.equal((await http(`${served.url}/`)).body.toString(), 'ok');

      link(fixture('broken-app.js'));
      served.signal('SIGHUP');
      await served.waitForLog(/reload\.aborted[^\n]*this release is broken/);
      assert.equal((await http(`${served.url}/`)).body.toString(), 'ok', 'the running workers keep serving');
    } finally {
      await served.stop();
    }
  });

  test('a reload that cannot start a worker (its Node removed) is aborted: the master and its workers stay', async (t) => {
    // The master runs a copy of Node that is then deleted, as a release's bundled Node is when
    // the release is removed: a new worker cannot be spawned (ENOENT).
    const dir = mkdtempSync(path.join(tmpdir(), 'pier-gone-node-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const node = path.join(dir, 'node');
    copyFileSync(process.execPath, node);
    chmodSync(node, 0o755);
    const served = await startServe(['--http-socket', '127.0.0.1:0', '--app', echoApp, '--processes', '2'], {
      node,
    });
    try {
      rmSync(node);
      served.signal('SIGHUP');
      await served.waitForLog(/reload\.aborted[^\n]*cannot start a worker: spawn \S*node ENOENT/);
      assert.equal((await http(`${served.url}/`)).status, 200, 'the running workers keep serving');
      assert.equal(served.child.exitCode, null, 'the master runs on');
    } finally {
      await served.stop();
    }
  });

  test('an app module that fails to load halts the master at once, with the error once per worker', async () => {
    // Loading it again would fail the same way: as gunicorn does, the first failure decides.
    const result = await serveFails([
      ...['--http-socket', '127.0.0.1:0', '--processes', '2', '--app', fixture('broken-app.js')],
    ]);
    assert.equal(result.code, 3);
    assert.equal(result.stderr.match(/worker\.spawn/g)?.length, 2);
    assert.equal(result.stderr.match(/app\.load-failed/g)?.length, 2);
    // Where the app threw: its own file and line, not pier's loader.
    assert.match(result.stderr, /app\.load-failed error="[^"]*" at=\S*\/broken-app\.js:2:\d+\n/);
    assert.match(
      result.stderr,
      /master\.halt reason="the app failed to load" error="[^\n]*this release is broken: missing configuration/,
    );
  });

  test("a TypeScript app with a syntax error: esbuild's message, its line break written \\n once", async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pier-bad-ts-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'app.ts'), 'const x: number = ;\nexport default () => new Response("x");\n');
    const result = await serveFails(['--http-socket', '127.0.0.1:0', '--app', path.join(dir, 'app.ts')]);
    assert.equal(result.code, 3);
    assert.match(
      result.stderr,
      /Transform failed with 1 error:\\n\S*app\.ts:1:18: ERROR: Unexpected \\";\\""/,
    );
    assert.doesNotMatch(result.stderr, /\\\\n/);
  });

  test('a TCP port another server holds: refused at start with the reason, no worker spawned', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    try {
      const result = await serveFails(['--socket', `127.0.0.1:${port}`, '--app', echoApp]);
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        new RegExp(`cannot bind 127\\.0\\.0\\.1:${port} \\(uwsgi\\): address already in use`),
      );
      assert.doesNotMatch(result.stderr, /worker\.spawn/);
    } finally {
      holder.close();
    }
  });

  test('config errors exit 2 with file:line and a hint, before anything starts', async () => {
    const ini = path.join(dir, 'bad.ini');
    writeFileSync(ini, '[pier]\nhttp-socket = :0\napp = x.js\nharakri = 3\n');
    const result = await serveFails([ini], { cwd: dir });
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr.split('\n')[0],
      `error[CONFIG]: ${ini}:4: unknown option "harakri"; did you mean "harakiri"?`,
    );
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  });
});

describe('sockets and stats', () => {
  test('unix socket with chmod-socket and vacuum; stats served as JSON', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pier-sock-'));
    const sock = path.join(dir, 'app.sock');
    const stats = path.join(dir, 'stats.sock');
    const pidfile = path.join(dir, 'pier.pid');
    const served = await startServe([
      '--http-socket',
      sock,
      '--app',
      slowApp,
      '--processes',
      '2',
      '--chmod-socket',
      '660',
      '--vacuum',
      'true',
      '--stats',
      stats,
      '--pidfile',
      pidfile,
    ]);
    try {
      assert.equal(statSync(sock).mode & 0o777, 0o660);
      assert.equal(readFileSync(pidfile, 'utf8').trim(), String(served.pid));
      const res = await http('http://localhost/pid', { socketPath: sock });
      assert.equal(res.status, 200);
      // Asked at once: the master pings the workers before it answers, no heartbeat to wait for.
      const json = await new Promise<string>((resolve, reject) => {
        let text = '';
        connect(stats)
          .on('data', (chunk) => {
            text += chunk.toString();
          })
          .on('end', () => resolve(text))
          .on('error', reject);
      });
      const report = JSON.parse(json) as {
        pid: number;
        workers: Array<{ state: string; requests: number }>;
        requests: number;
      };
      assert.equal(report.pid, served.pid);
      assert.equal(report.workers.length, 2);
      assert.ok(report.workers.every((w) => w.state === 'ready'));
      assert.equal(report.requests, 1);
    } finally {
      await served.stop();
    }
    assert.ok(!existsSync(sock), 'vacuum removed the socket');
    assert.ok(!existsSync(pidfile), 'vacuum removed the pidfile');
    rmSync(dir, { recursive: true, force: true });
  });
});

test("uWSGI's bare flags: `--master --http-socket …`, a bare --chmod-socket (666) and --vacuum", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pier-bare-'));
  const sock = path.join(dir, 'app.sock');
  // --master used to take the next option for its value, and the others demanded one.
  const served = await startServe([
    '--master',
    '--http-socket',
    sock,
    '--app',
    slowApp,
    '--chmod-socket',
    '--vacuum',
  ]);
  try {
    assert.equal(statSync(sock).mode & 0o777, 0o666);
    assert.equal((await http('http://localhost/pid', { socketPath: sock })).status, 200);
  } finally {
    await served.stop();
  }
  assert.ok(!existsSync(sock), 'vacuum removed the socket');
  rmSync(dir, { recursive: true, force: true });
});

describe('operations', () => {
  test('uid/gid: workers run unprivileged after the master binds, the pidfile written before; SIGUSR1 logs stats', async () => {
    // A directory only root may write, as /run is: the pidfile goes there before uid/gid apply.
    const run = mkdtempSync(path.join(tmpdir(), 'pier-run-'));
    chmodSync(run, 0o755);
    const pidfile = path.join(run, 'pier.pid');
    const served = await startServe([
      '--http-socket',
      '127.0.0.1:0',
      '--app',
      slowApp,
      '--uid',
      'nobody',
      '--gid',
      'nogroup',
      '--pidfile',
      pidfile,
    ]);
    try {
      assert.equal(readFileSync(pidfile, 'utf8').trim(), String(served.pid));
      const workerPid = Number((await http(`${served.url}/pid`)).body.toString());
      const status = readFileSync(`/proc/${workerPid}/status`, 'utf8');
      assert.match(status, /^Uid:\s+65534\s/m);
      assert.match(status, /^Gid:\s+65534\s/m);
      served.signal('SIGUSR1');
      // The stats as compact JSON, counting the request made just before.
      const [, stats] = await served.waitForLog(/master\.stats stats=(\{\S*\})\n/);
      assert.equal((JSON.parse(stats as string) as { requests: number }).requests, 1);
    } finally {
      await served.stop();
      rmSync(run, { recursive: true, force: true });
    }
  });

  test('a client that never finishes its headers gets 408 after socket-timeout', async () => {
    const served = await startServe([
      '--http-socket',
      '127.0.0.1:0',
      '--app',
      slowApp,
      '--socket-timeout',
      '1',
    ]);
    try {
      const started = Date.now();
      const reply = await new Promise<string>((resolve) => {
        const [host, port] = served.addresses[0]?.address.split(':') ?? [];
        const socket = connect(Number(port), host);
        let text = '';
        socket.on('data', (d) => {
          text += d.toString();
        });
        socket.on('close', () => resolve(text));
        socket.on('error', () => resolve(text));
        socket.write('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      });
      assert.match(reply, /^HTTP\/1\.1 408 /);
      assert.ok(Date.now() - started < 4000);
    } finally {
      await served.stop();
    }
  });

  test('reload-on-rss recycles a worker that grew past the limit', async () => {
    const served = await startServe([
      '--http-socket',
      '127.0.0.1:0',
      '--app',
      slowApp,
      '--reload-on-rss',
      '1',
    ]);
    try {
      await served.waitForLog(/worker\.recycle[^\n]*reload-on-rss: \d+ MB > 1 MB/);
      assert.equal((await http(`${served.url}/`)).status, 200);
    } finally {
      await served.stop();
    }
  });
});

test('an exception the app throws outside a request: one log record, requests in progress finish, a replacement serves', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pier-uncaught-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const app = path.join(dir, 'app.mjs');
  writeFileSync(
    app,
    [
      'export default function (req, res) {',
      "  if (req.url === '/throw-later') setTimeout(() => { throw new Error('thrown in a timer'); }, 20);",
      "  if (req.url === '/reject') Promise.reject(new Error('rejected, never awaited'));",
      "  if (req.url === '/slow') { setTimeout(() => res.end('slow ' + process.pid + '\\n'), 500); return; }",
      "  res.end('ok ' + process.pid + '\\n');",
      '}',
      '',
    ].join('\n'),
  );
  const served = await startServe(['--http-socket', '127.0.0.1:0', '--app', app, '--processes', '1']);
  t.after(() => served.stop());
  const first = await http(`${served.url}/`);
  const pid = Number(/ok (\d+)/.exec(first.body.toString())?.[1]);
  // A request in progress on the worker when the app throws elsewhere.
  const slow = http(`${served.url}/slow`);
  await new Promise((r) => setTimeout(r, 50));
  const thrower = await http(`${served.url}/throw-later`);
  assert.equal(thrower.status, 200);
  const finished = await slow;
  assert.equal(finished.status, 200);
  assert.equal(finished.body.toString(), `slow ${pid}\n`, 'finished by the worker that threw');
  await served.waitForLog(/worker\.exit slot=1 pid=\d+ code=6/);
  assert.match(
    served.log(),
    /pier\[worker 1\] WARN app\.uncaught error="thrown in a timer" at=file:\/\/\S+app\.mjs:2:\d+\n/,
  );
  assert.doesNotMatch(served.log(), /^\s+at /m, 'no raw stack trace');
  assert.match(served.log(), /worker\.recycle slot=1 pid=\d+ reason="uncaught exception in the app"/);
  // Every request of the worker that threw is in the access log (its buffer was flushed).
  assert.match(served.output(), /"GET \/throw-later HTTP\/1\.1" 200 /);
  assert.match(served.output(), /"GET \/slow HTTP\/1\.1" 200 /);
  const next = await http(`${served.url}/`);
  assert.equal(next.status, 200);
  assert.notEqual(next.body.toString(), `ok ${pid}\n`, 'served by the replacement');
  // A promise rejected with nobody awaiting it goes the same way.
  await http(`${served.url}/reject`);
  await served.waitForLog(/WARN app\.uncaught error="rejected, never awaited"/);
  assert.equal((await http(`${served.url}/`)).status, 200);
});

test('pier serve goes on serving when the reader of its access log goes away', async (t) => {
  const served = await startServe(['--http-socket', '127.0.0.1:0', '--app', echoApp, '--processes', '1']);
  t.after(() => served.stop());
  assert.equal((await http(`${served.url}/`)).status, 200);
  // The reader of stdout (where the access log goes) is gone: every write now fails (EPIPE).
  served.child.stdout?.destroy();
  for (let i = 0; i < 20; i++) assert.equal((await http(`${served.url}/`)).status, 200);
  await new Promise((r) => setTimeout(r, 200));
  assert.doesNotMatch(served.log(), /worker\.exit|EPIPE/);
});

test('a chunked upload over limit-post that the app never reads: one warning, and an access line naming the client', async (t) => {
  // A Node listener answering without reading the body. curl sends the head, then the body as
  // one chunk that reaches the worker in more than one read.
  const dir = mkdtempSync(path.join(tmpdir(), 'pier-unread-'));
  const app = path.join(dir, 'app.mjs');
  writeFileSync(app, "export default function (req, res) { res.end('ok\\n'); }\n");
  const served = await startServe([
    '--http-socket',
    '127.0.0.1:0',
    '--limit-post',
    '1000',
    '--processes',
    '1',
    '--app',
    app,
  ]);
  t.after(async () => {
    await served.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const curl = spawnSync(
    'curl',
    ['-sS', '-o', '/dev/null', '-H', 'Transfer-Encoding: chunked', '--data-binary', '@-', `${served.url}/up`],
    { input: Buffer.alloc(5000), encoding: 'utf8' },
  );
  assert.equal(curl.status, 0, curl.stderr);
  await served.waitForLog(/chunked request body passed limit-post/);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(served.log().match(/chunked request body passed limit-post/g)?.length, 1, served.log());
  assert.match(served.output(), /^127\.0\.0\.1 - - \[[^\]]+\] "POST \/up HTTP\/1\.1" \d{3} /m);
});

test('logformat json: SIGUSR1 stats are a nested object, not JSON in a string', async (t) => {
  const served = await startServe(['--http-socket', '127.0.0.1:0', '--app', echoApp, '--logformat', 'json']);
  t.after(() => served.stop());
  for (let i = 0; i < 3; i++) assert.equal((await http(`${served.url}/`)).status, 200);
  served.signal('SIGUSR1');
  const [line] = await served.waitForLog(/^\{[^\n]*"event":"master\.stats"[^\n]*\}$/m);
  const record = JSON.parse(line as string) as { stats: { requests: number; workers: unknown[] } };
  assert.equal(record.stats.requests, 3);
  assert.ok(Array.isArray(record.stats.workers));
});

test('a uwsgi packet sent to the HTTP socket (uwsgi_pass at an http-socket): 400, and the log says what it is', async (t) => {
  const served = await startServe(['--http-socket', '127.0.0.1:0', '--app', echoApp, '--processes', '1']);
  t.after(() => served.stop());
  const vars = Buffer.concat(
    [
      ['REQUEST_METHOD', 'GET'],
      ['REQUEST_URI', '/'],
    ].flatMap(([key, value]) => {
      const k = Buffer.from(key as string);
      const v = Buffer.from(value as string);
      const kl = Buffer.alloc(2);
      kl.writeUInt16LE(k.length);
      const vl = Buffer.alloc(2);
      vl.writeUInt16LE(v.length);
      return [kl, k, vl, v];
    }),
  );
  const head = Buffer.from([0, vars.length & 0xff, vars.length >> 8, 0]);
  const answer = await rawExchange(
    served.addresses[0]?.address ?? '',
    Buffer.concat([head, vars]).toString('latin1'),
  );
  assert.match(answer, /^HTTP\/1\.1 400 /);
  await served.waitForLog(/this looks like a uwsgi packet \(nginx uwsgi_pass\), and this socket speaks HTTP/);
});
