// Real nginx in front of a real `pier serve` (2 workers), with the stock uwsgi_params and
// fastcgi_params and the seed's X-Real-IP / X-Forwarded-* lines: uwsgi_pass over TCP and a unix
// socket, fastcgi_pass with keep-conn on and off, against the echo app. Counting the backend's
// connections (keep-conn reuse) needs the front-end's own view, so that one case runs nginx
// against the front-end in-process.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EchoReport } from '../examples/echo/app.js';
import { startFastcgiGateway } from './helpers/gateway-server.js';
import { wrk } from './helpers/load.js';
import { freePort, http } from './helpers/net.js';
import { type Nginx, startNginx } from './helpers/nginx.js';
import { echoApp, repoRoot } from './helpers/paths.js';
import { type Served, startServe } from './helpers/serve.js';

const seedParams = [
  '      uwsgi_param Host $host;',
  '      uwsgi_param X-Real-IP $remote_addr;',
  '      uwsgi_param X-Forwarded-For $proxy_add_x_forwarded_for;',
  '      uwsgi_param X-Forwarded-Proto $http_x_forwarded_proto;',
].join('\n');

const location = (lines: string): string => `    location / {\n${lines}\n    }`;

interface Mode {
  name: string;
  url: string;
}

const socketDir = mkdtempSync(path.join(tmpdir(), 'pier-nginx-sock-'));
const uwsgiSocket = path.join(socketDir, 'uwsgi.sock');
const fixtures = path.join(repoRoot, 'dist/test/fixtures');
let nginx: Nginx;
let pier: Served;
const modes: Mode[] = [];

/** `host:port` → `127.0.0.1:port` for nginx; unix paths stay. */
const upstream = (address: string): string => (address.startsWith('/') ? `unix:${address}` : address);

before(async () => {
  chmodSync(socketDir, 0o755);
  pier = await startServe([
    '--socket',
    '127.0.0.1:0',
    '--socket',
    uwsgiSocket,
    '--chmod-socket',
    '666',
    '--fastcgi-socket',
    `127.0.0.1:${await freePort()}`,
    '--app',
    echoApp,
    '--processes',
    '2',
    '--limit-post',
    '16m',
  ]);
  const [tcp, unix, fastcgi] = pier.addresses.map((a) => upstream(a.address));
  nginx = await startNginx(
    [
      location(`      include /etc/nginx/uwsgi_params;\n      uwsgi_pass ${tcp};\n${seedParams}`),
      location(`      include /etc/nginx/uwsgi_params;\n      uwsgi_pass ${unix};`),
      location(
        '      include /etc/nginx/fastcgi_params;\n      fastcgi_pass pier_keep;\n      fastcgi_keep_conn on;',
      ),
      location(`      include /etc/nginx/fastcgi_params;\n      fastcgi_pass ${fastcgi};`),
    ],
    `  upstream pier_keep { server ${fastcgi}; keepalive 4; }`,
  );
  const names = [
    'uwsgi over TCP',
    'uwsgi over a unix socket',
    'FastCGI, keep-conn on',
    'FastCGI, keep-conn off',
  ];
  names.forEach((name, i) => {
    modes.push({ name, url: `http://127.0.0.1:${nginx.ports[i]}` });
  });
});

after(async () => {
  await nginx?.stop();
  await pier?.stop();
  rmSync(socketDir, { recursive: true, force: true });
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const echoOf = (body: Buffer): EchoReport => JSON.parse(body.toString()) as EchoReport;
const body5m = randomBytes(5 * 1024 * 1024);
const sha5m = createHash('sha256').update(body5m).digest('hex');

// Mode order is fixed at load time; `modes` fills in before the tests run.
for (const [index, name] of [
  'uwsgi over TCP',
  'uwsgi over a unix socket',
  'FastCGI, keep-conn on',
  'FastCGI, keep-conn off',
].entries()) {
  describe(`nginx → pier, ${name}`, () => {
    const mode = (): Mode => modes[index] as Mode;

    test('methods, query strings, and the access record', async () => {
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
        const res = await http(`${mode().url}/m?a=1&b=x%20y&b=2`, {
          method,
          body: method === 'GET' ? undefined : 'hi',
        });
        assert.equal(res.status, 200, `${method}: ${res.body.toString()}`);
        const echo = echoOf(res.body);
        assert.equal(echo.method, method);
        assert.equal(echo.rawQuery, 'a=1&b=x%20y&b=2');
        assert.deepEqual(echo.query.b, ['x y', '2']);
      }
      await waitFor(() =>
        /^127\.0\.0\.1 .*"OPTIONS \/m\?a=1&b=x%20y&b=2 HTTP\/1\.1" 200 /m.test(pier.output()),
      );
    });

    test('the Host header cannot change the path the app sees; a stray % in the query arrives as sent', async () => {
      // nginx passes these Hosts on; pasted into the app's URL they would turn `/users` into
      // `/admin/users` (or cut the path off), past any `location` rule for the path asked for.
      // nginx refuses some of them itself; the others reach pier, which refuses them.
      const refusedByPier: string[] = [];
      for (const host of ['x\\admin', 'x#', 'x?y', 'h/admin', 'a@b']) {
        const res = await http(`${mode().url}/users`, { headers: { host } });
        assert.equal(res.status, 400, `Host ${host}: ${res.body.toString()}`);
        if (/Host header .* is not a valid host\[:port\]/.test(res.body.toString())) refusedByPier.push(host);
      }
      assert.ok(refusedByPier.includes('x\\admin'), `pier refused ${refusedByPier.join(' ')}`);
      // A refused request leaves a kept FastCGI connection open: the next request, a POST that
      // nginx never retries elsewhere, is answered on it (a close there would be a 502).
      for (let i = 0; i < 4; i++) {
        const post = await http(`${mode().url}/after`, { method: 'POST', body: 'hi' });
        assert.equal(post.status, 200, post.body.toString());
      }
      const ok = await http(`${mode().url}/users?q=100%`, { headers: { host: 'example.test:8080' } });
      assert.equal(ok.status, 200, ok.body.toString());
      const echo = echoOf(ok.body);
      assert.equal(echo.path, '/users');
      assert.equal(echo.rawQuery, 'q=100%');
    });

    test('HEAD: headers only', async () => {
      const res = await http(`${mode().url}/`, { method: 'HEAD' });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(res.body.length, 0);
    });

    test('UTF-8 and percent-encoded paths arrive as sent', async () => {
      const res = await http(`${mode().url}/caf%C3%A9/%E6%97%A5%20x?q=%C3%BC`);
      const echo = echoOf(res.body);
      assert.equal(echo.path, '/caf%C3%A9/%E6%97%A5%20x');
      assert.deepEqual(echo.query.q, ['ü']);
    });

    test('8 KiB of request headers', async () => {
      const headers: Record<string, string> = {};
      for (let i = 0; i < 8; i++) headers[`x-big-${i}`] = String(i).repeat(1000);
      const res = await http(`${mode().url}/h`, { headers });
      assert.equal(res.status, 200);
      const echo = echoOf(res.body);
      for (let i = 0; i < 8; i++) assert.equal(echo.headers[`x-big-${i}`], String(i).repeat(1000));
    });

    test('a 5 MiB body with Content-Length and chunked', async () => {
      for (const chunked of [false, true]) {
        const res = await http(`${mode().url}/upload`, { method: 'POST', body: body5m, chunked });
        assert.equal(res.status, 200, res.body.toString().slice(0, 300));
        const echo = echoOf(res.body);
        assert.equal(echo.bodyLength, body5m.length, `chunked: ${chunked}`);
        assert.equal(echo.bodySha256, sha5m);
      }
    });

    test('204 and 304 have no body', async () => {
      for (const status of [204, 304]) {
        const res = await http(`${mode().url}/?status=${status}`);
        assert.equal(res.status, status);
        assert.equal(res.body.length, 0);
      }
    });

    test('a streamed response arrives whole, unframed by pier (nginx chunks it)', async () => {
      const res = await http(`${mode().url}/s?chunks=5`);
      assert.equal(res.status, 200);
      assert.equal(res.headers['transfer-encoding'], 'chunked');
      assert.match(res.body.toString(), /\nline 1\nline 2\nline 3\nline 4\nline 5\n$/);
    });

    test('repeated Set-Cookie headers stay separate', async () => {
      const res = await http(`${mode().url}/?cookie=a%3D1&cookie=b%3D2`);
      assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
    });
  });
}

test('the seed’s X-Real-IP / X-Forwarded-For params arrive as headers and beat a spoofed one', async () => {
  const res = await http(`${modes[0]?.url}/ip`, {
    headers: { 'x-real-ip': '6.6.6.6', 'x-forwarded-for': '10.9.9.9' },
  });
  const echo = echoOf(res.body);
  assert.equal(echo.headers['x-real-ip'], '127.0.0.1');
  assert.equal(echo.headers['x-forwarded-for'], '10.9.9.9, 127.0.0.1');
  assert.equal(echo.headers['x-forwarded-proto'], undefined, 'an empty param is no header');
});

test('fastcgi_keep_conn on reuses connections; off opens one per request', async () => {
  const keep = await startFastcgiGateway();
  const close = await startFastcgiGateway();
  const counting = await startNginx(
    [
      location(
        '      include /etc/nginx/fastcgi_params;\n      fastcgi_pass counted_keep;\n      fastcgi_keep_conn on;',
      ),
      location(`      include /etc/nginx/fastcgi_params;\n      fastcgi_pass 127.0.0.1:${close.port};`),
    ],
    `  upstream counted_keep { server 127.0.0.1:${keep.port}; keepalive 4; }`,
  );
  try {
    for (let i = 0; i < 5; i++) {
      assert.equal((await http(`http://127.0.0.1:${counting.ports[0]}/k`)).status, 200);
      assert.equal((await http(`http://127.0.0.1:${counting.ports[1]}/k`)).status, 200);
    }
    assert.equal(keep.connections.length, 1, 'keep-conn: one connection for five requests');
    assert.equal(close.connections.length, 5);
  } finally {
    await counting.stop();
    await keep.close();
    await close.close();
  }
});

test('10 SIGHUPs under load through nginx over uwsgi: zero failed requests, every worker replaced', async () => {
  // Each reload hands the listening socket to new workers while the old ones drain; a
  // connection lost on the way shows up as a 502 from nginx.
  const served = await startServe([
    '--socket',
    '127.0.0.1:0',
    '--app',
    path.join(fixtures, 'slow-app.js'),
    '--processes',
    '2',
    '--disable-logging',
    'true',
  ]);
  const front = await startNginx([
    location(`      include /etc/nginx/uwsgi_params;\n      uwsgi_pass ${served.addresses[0]?.address};`),
  ]);
  try {
    const pids = (): number[] =>
      [...served.log().matchAll(/worker\.ready slot=\d+ pid=(\d+)/g)].map((m) => Number(m[1]));
    const before = pids();
    const load = wrk(`http://127.0.0.1:${front.ports[0]}/`, 8, 32);
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (let i = 0; i < 10; i++) {
      served.signal('SIGHUP');
      await served.waitForLog(new RegExp(`(reload\\.done[^\\n]*\\n[\\s\\S]*){${i + 1}}`), 10_000);
    }
    const result = await load;
    assert.ok(result.requests > 1000, `only ${result.requests} requests under load`);
    assert.equal(result.non2xx, 0, result.raw);
    assert.equal(result.socketErrors, 0, result.raw);
    const replaced = pids().slice(before.length);
    assert.equal(replaced.length, 20, 'two new workers per reload');
    assert.ok(!replaced.some((pid) => before.includes(pid)));
  } finally {
    await front.stop();
    await served.stop();
  }
});

/** POSTs `body` to `url` from `loops` kept-alive clients until `until` settles; counts answers by status. */
async function postUntil(
  url: string,
  body: Buffer,
  loops: number,
  until: Promise<unknown>,
): Promise<{ statuses: Map<number, number>; errors: string[] }> {
  const agent = new Agent({ keepAlive: true, maxSockets: loops });
  const statuses = new Map<number, number>();
  const errors: string[] = [];
  let done = false;
  void until.finally(() => {
    done = true;
  });
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const req = request(url, { method: 'POST', agent }, (res) => {
        res.resume().on('end', () => {
          const status = res.statusCode ?? 0;
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          resolve();
        });
      });
      req.on('error', (err) => {
        errors.push(err.message);
        resolve();
      });
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while (!done) await one();
    }),
  );
  agent.destroy();
  return { statuses, errors };
}

test('SIGHUPs and max-requests recycles under POSTs through nginx over FastCGI keep-conn: not one 502', async () => {
  // With fastcgi_keep_conn only nginx closes a connection: a stopping worker that closed its
  // idle kept connections raced nginx sending the next request on one, and nginx answers a POST
  // that met a closed connection with 502 (it retries only idempotent requests). A stopping
  // worker now hands those connections to its replacement, once its last response has left.
  // 20 KB bodies: each answer's last records are still queued when the connection goes idle.
  const served = await startServe([
    '--fastcgi-socket',
    `127.0.0.1:${await freePort()}`,
    '--app',
    echoApp,
    '--processes',
    '2',
    '--max-requests',
    '100',
    // A connection a stopping worker neither serves nor hands on shows up within the test.
    '--reload-mercy',
    '5',
    '--disable-logging',
    'true',
  ]);
  const sockets = (): number =>
    readdirSync(`/proc/${served.pid}/fd`).filter((fd) => {
      try {
        return readlinkSync(`/proc/${served.pid}/fd/${fd}`).startsWith('socket:');
      } catch {
        return false;
      }
    }).length;
  const socketsBefore = sockets();
  const front = await startNginx(
    [
      location(
        '      include /etc/nginx/fastcgi_params;\n      fastcgi_pass kept;\n      fastcgi_keep_conn on;',
      ),
    ],
    `  upstream kept { server ${served.addresses[0]?.address}; keepalive 16; }`,
  );
  try {
    const reloads = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (let i = 0; i < 4; i++) {
        served.signal('SIGHUP');
        await served.waitForLog(new RegExp(`(reload\\.done[^\\n]*\\n[\\s\\S]*){${i + 1}}`), 10_000);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      // The load goes on while the last reload's old workers hand on their connections and exit.
      await new Promise((resolve) => setTimeout(resolve, 1000));
    })();
    const body = Buffer.alloc(20_000, 'p');
    const { statuses, errors } = await postUntil(
      `http://127.0.0.1:${front.ports[0]}/echo`,
      body,
      16,
      reloads,
    );
    await reloads;
    const answered = statuses.get(200) ?? 0;
    // Held connections showed as a stall: a few hundred answers where the load gives thousands.
    assert.ok(answered > 1000, `only ${answered} POSTs answered`);
    assert.deepEqual([...statuses.keys()], [200], `statuses: ${JSON.stringify([...statuses])}`);
    assert.deepEqual(errors, []);
    const log = served.log();
    assert.ok((log.match(/worker\.recycle/g) ?? []).length > 0, 'max-requests recycled no worker');
    assert.doesNotMatch(log, /mercy-expired/, 'an old worker held on until reload-mercy');
    assert.doesNotMatch(front.errorLog(), /\[(error|crit|alert|emerg)\]/);
    // Every old worker goes (the last recycle's within a moment, well inside reload-mercy), and
    // the master keeps no copy of a connection it passed on.
    const alive = (): number =>
      (served.log().match(/worker\.spawn/g) ?? []).length -
      (served.log().match(/worker\.exit/g) ?? []).length;
    await waitFor(() => alive() === 2, 3000).catch(() => assert.fail(`${alive()} workers still running`));
    assert.equal(sockets(), socketsBefore, "the master's sockets grew");
  } finally {
    await front.stop();
    await served.stop();
  }
});

test('nginx logged no upstream errors', () => {
  assert.doesNotMatch(nginx.errorLog(), /\[(error|crit|alert|emerg)\]/);
});

describe('nginx → pier, limits', () => {
  let limitedNginx: Nginx;
  let limited: Served;

  before(async () => {
    limited = await startServe([
      '--socket',
      '127.0.0.1:0',
      '--fastcgi-socket',
      `127.0.0.1:${await freePort()}`,
      '--http-socket',
      `127.0.0.1:${await freePort()}`,
      '--app',
      echoApp,
      '--limit-post',
      '1m',
      '--buffer-size',
      '8k',
    ]);
    const [uwsgi, fastcgi, http1] = limited.addresses.map((a) => a.address);
    limitedNginx = await startNginx(
      [
        location(`      include /etc/nginx/uwsgi_params;\n      uwsgi_pass ${uwsgi};`),
        location(`      include /etc/nginx/fastcgi_params;\n      fastcgi_pass ${fastcgi};`),
        location(
          '      proxy_http_version 1.1;\n      proxy_set_header Connection "";\n      proxy_pass http://limited_http;',
        ),
      ],
      `  upstream limited_http { server ${http1}; keepalive 8; }`,
    );
  });
  after(async () => {
    await limitedNginx?.stop();
    await limited?.stop();
  });

  for (const [i, name] of ['uwsgi', 'FastCGI'].entries()) {
    test(`${name}: a body over limit-post → 413, vars over buffer-size → 431, through nginx`, async () => {
      const url = `http://127.0.0.1:${limitedNginx.ports[i]}`;
      const big = await http(`${url}/big`, { method: 'POST', body: body5m.subarray(0, 2 * 1024 * 1024) });
      assert.equal(big.status, 413);
      assert.match(big.body.toString(), /limit-post/);
      const headers: Record<string, string> = {};
      for (let h = 0; h < 12; h++) headers[`x-big-${h}`] = 'v'.repeat(1000);
      const wide = await http(`${url}/wide`, { headers });
      assert.equal(wide.status, 431);
      assert.equal((await http(`${url}/ok`)).status, 200, 'the backend keeps serving');
      const protocol = i === 0 ? 'uwsgi' : 'fastcgi';
      await limited.waitForLog(
        new RegExp(`${protocol} 127\\.0\\.0\\.1:\\d+: request body of 2097152 bytes is over limit-post`),
      );
      await limited.waitForLog(new RegExp(`${protocol} 127\\.0\\.0\\.1:\\d+: .*buffer-size`));
    });
  }

  test('HTTP behind proxy_pass: a body over limit-post is a 413 every time, never a 502', async () => {
    // pier answers while nginx is still sending the body; a close with those bytes unread was
    // a reset that destroyed the 413 about one time in four.
    const url = `http://127.0.0.1:${limitedNginx.ports[2]}`;
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      statuses.push(
        (await http(`${url}/big`, { method: 'POST', body: body5m.subarray(0, 3_000_000) })).status,
      );
    }
    assert.deepEqual(statuses, Array(12).fill(413));
    assert.equal((await http(`${url}/ok`)).status, 200, 'the backend keeps serving');
  });
});

/** pier serving `app` on a uwsgi and a FastCGI socket, behind nginx: ports[0] uwsgi_pass, ports[1] fastcgi_pass. */
async function gatewaysBehindNginx(app: string): Promise<{ served: Served; front: Nginx }> {
  const served = await startServe([
    '--socket',
    '127.0.0.1:0',
    '--fastcgi-socket',
    `127.0.0.1:${await freePort()}`,
    '--app',
    app,
  ]);
  const [uwsgi, fastcgi] = served.addresses.map((a) => a.address);
  const front = await startNginx([
    location(`      include /etc/nginx/uwsgi_params;\n      uwsgi_pass ${uwsgi};`),
    location(`      include /etc/nginx/fastcgi_params;\n      fastcgi_pass ${fastcgi};`),
  ]);
  return { served, front };
}

/** What a client makes of a response: `complete STATUS: BODY`, or `failed: why`. */
const outcomeOf = (url: string): Promise<string> =>
  http(url).then(
    (res) => `complete ${res.status}: ${res.body.toString()}`,
    (err: Error) => `failed: ${err.message}`,
  );

describe('nginx → pier, an app that fails mid-response', () => {
  let cut: { served: Served; front: Nginx } | undefined;

  before(async () => {
    cut = await gatewaysBehindNginx(path.join(fixtures, 'cut-app.js'));
  });
  after(async () => {
    await cut?.front.stop();
    await cut?.served.stop();
  });

  for (const [i, name] of ['uwsgi', 'FastCGI'].entries()) {
    test(`${name}: the client sees a cut response, never a complete-looking one`, async () => {
      const outcome = await outcomeOf(`http://127.0.0.1:${cut?.front.ports[i]}/cut`);
      assert.match(outcome, /^failed|^complete 502/, outcome);
    });
  }
});

describe('nginx → pier, a streamed body that breaks its own Content-Length', () => {
  let wrong: { served: Served; front: Nginx } | undefined;

  before(async () => {
    wrong = await gatewaysBehindNginx(path.join(fixtures, 'wrong-length-app.js'));
  });
  after(async () => {
    await wrong?.front.stop();
    await wrong?.served.stop();
  });

  for (const [i, name] of ['uwsgi', 'FastCGI'].entries()) {
    test(`${name}: a body that runs past or ends short fails at the client, never arrives cut to length`, async () => {
      const { served, front } = wrong as { served: Served; front: Nginx };
      const outcome = (target: string): Promise<string> =>
        outcomeOf(`http://127.0.0.1:${front.ports[i]}${target}`);
      assert.equal(await outcome('/exact'), 'complete 200: 0123456789');
      for (const target of ['/long', '/short']) {
        const got = await outcome(target);
        assert.match(got, /^failed|^complete 502/, `${target}: ${got}`);
      }
      await served.waitForLog(
        /GET \/long: app error: the app's body runs past its Content-Length of 10 bytes/,
      );
      await served.waitForLog(/GET \/short: app error: the app's body ended after 5 of the 10 bytes/);
    });
  }
});
