// Real nginx in front of pier's uwsgi and FastCGI front-ends, with the stock uwsgi_params and
// fastcgi_params and the seed's X-Real-IP / X-Forwarded-* lines: uwsgi_pass over TCP and a unix
// socket, fastcgi_pass with keep-conn on and off, against the echo app.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EchoReport } from '../examples/echo/app.js';
import { failsMidBody } from './fixtures/failing-apps.js';
import { type GatewayServer, startGateway } from './helpers/gateway-server.js';
import { http } from './helpers/net.js';
import { type Nginx, startNginx } from './helpers/nginx.js';

const seedParams = [
  '      uwsgi_param Host $host;',
  '      uwsgi_param X-Real-IP $remote_addr;',
  '      uwsgi_param X-Forwarded-For $proxy_add_x_forwarded_for;',
  '      uwsgi_param X-Forwarded-Proto $http_x_forwarded_proto;',
].join('\n');

const location = (lines: string): string => `    location / {\n${lines}\n    }`;

interface Mode {
  name: string;
  backend: GatewayServer;
  url: string;
}

const socketDir = mkdtempSync(path.join(tmpdir(), 'pier-nginx-sock-'));
const uwsgiSocket = path.join(socketDir, 'uwsgi.sock');
let nginx: Nginx;
const modes: Mode[] = [];

before(async () => {
  chmodSync(socketDir, 0o755);
  const uwsgiTcp = await startGateway('uwsgi');
  const uwsgiUnix = await startGateway('uwsgi', { listen: uwsgiSocket });
  chmodSync(uwsgiSocket, 0o666);
  const fastcgiKeep = await startGateway('fastcgi');
  const fastcgiClose = await startGateway('fastcgi');
  nginx = await startNginx(
    [
      location(
        `      include /etc/nginx/uwsgi_params;\n      uwsgi_pass 127.0.0.1:${uwsgiTcp.port};\n${seedParams}`,
      ),
      location(`      include /etc/nginx/uwsgi_params;\n      uwsgi_pass unix:${uwsgiSocket};`),
      location(
        '      include /etc/nginx/fastcgi_params;\n      fastcgi_pass pier_keep;\n      fastcgi_keep_conn on;',
      ),
      location(
        `      include /etc/nginx/fastcgi_params;\n      fastcgi_pass 127.0.0.1:${fastcgiClose.port};`,
      ),
    ],
    `  upstream pier_keep { server 127.0.0.1:${fastcgiKeep.port}; keepalive 4; }`,
  );
  const names = [
    'uwsgi over TCP',
    'uwsgi over a unix socket',
    'FastCGI, keep-conn on',
    'FastCGI, keep-conn off',
  ];
  [uwsgiTcp, uwsgiUnix, fastcgiKeep, fastcgiClose].forEach((backend, i) => {
    modes.push({ name: names[i] ?? '', backend, url: `http://127.0.0.1:${nginx.ports[i]}` });
  });
});

after(async () => {
  await nginx?.stop();
  for (const mode of modes) await mode.backend.close();
  rmSync(socketDir, { recursive: true, force: true });
});

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
      const record = mode().backend.records.find((r) => r.method === 'OPTIONS');
      assert.equal(record?.status, 200);
      assert.equal(record?.remoteAddress, '127.0.0.1');
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
  const [, , keep, close] = modes;
  assert.ok(keep && close);
  const keepBefore = keep.backend.connections.length;
  const closeBefore = close.backend.connections.length;
  for (let i = 0; i < 5; i++) {
    await http(`${keep.url}/k`);
    await http(`${close.url}/k`);
  }
  assert.ok(keep.backend.connections.length - keepBefore <= 1, 'keep-conn: at most one new connection');
  assert.equal(close.backend.connections.length - closeBefore, 5);
});

test('nginx logged no upstream errors', () => {
  assert.doesNotMatch(nginx.errorLog(), /\[(error|crit|alert|emerg)\]/);
});

describe('nginx → pier, limits', () => {
  let limitedNginx: Nginx;
  const backends: GatewayServer[] = [];
  const limits = { limitPost: 1024 * 1024, bufferSize: 8192 };

  before(async () => {
    backends.push(await startGateway('uwsgi', { limits }), await startGateway('fastcgi', { limits }));
    limitedNginx = await startNginx([
      location(`      include /etc/nginx/uwsgi_params;\n      uwsgi_pass 127.0.0.1:${backends[0]?.port};`),
      location(
        `      include /etc/nginx/fastcgi_params;\n      fastcgi_pass 127.0.0.1:${backends[1]?.port};`,
      ),
    ]);
  });
  after(async () => {
    await limitedNginx?.stop();
    for (const backend of backends) await backend.close();
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
      assert.equal(backends[i]?.logs.length, 2, backends[i]?.logs.join('\n'));
    });
  }
});

describe('nginx → pier, an app that fails mid-response', () => {
  let cutNginx: Nginx;
  const backends: GatewayServer[] = [];

  before(async () => {
    backends.push(
      await startGateway('uwsgi', { app: failsMidBody }),
      await startGateway('fastcgi', { app: failsMidBody }),
    );
    cutNginx = await startNginx([
      location(`      include /etc/nginx/uwsgi_params;\n      uwsgi_pass 127.0.0.1:${backends[0]?.port};`),
      location(
        `      include /etc/nginx/fastcgi_params;\n      fastcgi_pass 127.0.0.1:${backends[1]?.port};`,
      ),
    ]);
  });
  after(async () => {
    await cutNginx?.stop();
    for (const backend of backends) await backend.close();
  });

  for (const [i, name] of ['uwsgi', 'FastCGI'].entries()) {
    test(`${name}: the client sees a cut response, never a complete-looking one`, async () => {
      const outcome = await http(`http://127.0.0.1:${cutNginx.ports[i]}/cut`).then(
        (res) => `complete ${res.status}: ${res.body.toString()}`,
        (err: Error) => `failed: ${err.message}`,
      );
      assert.match(outcome, /^failed|^complete 502/, outcome);
    });
  }
});
