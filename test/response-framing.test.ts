// Framing the client can trust, on every front: no Content-Length on 204 or 304 whatever the app
// declared (RFC 9110 §8.6, §15.4.5), HEAD declaring what GET would send, `Expect: 100-continue`
// over limit-post refused at once (RFC 9110 §10.1.1), gateway requests with one framing, and an
// access record for a request the HTTP parser refused.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { EchoReport } from '../examples/echo/app.js';
import type { App } from '../src/server/app/handler.js';
import { installLightResponse } from '../src/server/app/light-response.js';
import { begin, pairs, params, stdin } from './fixtures/fastcgi/records.js';
import { framingFetch, framingNode } from './fixtures/framing-apps.js';
import { uwsgiPacket, type Var } from './fixtures/uwsgi/packet.js';
import { ReplyReader } from './helpers/fastcgi-client.js';
import { type GatewayServer, startFastcgiGateway, startUwsgiGateway } from './helpers/gateway-server.js';
import { echoApp, repoRoot } from './helpers/paths.js';
import { exchange, openSocket, type ParsedHttp, parseHead } from './helpers/raw-client.js';
import { startServe } from './helpers/serve.js';

// As in a worker: `new Response` in the fixtures builds the light Response pier writes directly.
installLightResponse();

const fixture = (name: string): string => path.join(repoRoot, 'dist/test/fixtures', name);
const lengthOf = (reply: ParsedHttp): string | undefined =>
  reply.headers.find(([name]) => name === 'content-length')?.[1];
const targets = ['/204', '/304', '/204?real', '/304?real'];

describe('no Content-Length on 204 and 304', () => {
  for (const [kind, module] of [
    ['fetch app', 'framing-fetch-app.js'],
    ['Node listener', 'framing-node-app.js'],
  ] as const) {
    test(`HTTP, ${kind}`, async () => {
      const pier = await startServe(['--http-socket', '127.0.0.1:0', '--app', fixture(module)]);
      try {
        const port = Number(pier.addresses[0]?.address.split(':')[1]);
        for (const target of targets) {
          const raw = await exchange(
            port,
            Buffer.from(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
          );
          const reply = parseHead(raw.bytes);
          assert.equal(reply.status, Number(target.slice(1, 4)), target);
          assert.equal(lengthOf(reply), undefined, `${target}: content-length ${lengthOf(reply)}`);
          assert.equal(reply.body.length, 0, target);
        }
        const head = await exchange(
          port,
          Buffer.from('HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
        );
        assert.equal(lengthOf(parseHead(head.bytes)), '5', 'HEAD declares the length GET would send');
      } finally {
        await pier.stop();
      }
    });

    const app: App = kind === 'fetch app' ? framingFetch : framingNode;
    const uwsgi = (target: string, method = 'GET'): Buffer =>
      uwsgiPacket([
        ['REQUEST_METHOD', method],
        ['REQUEST_URI', target],
        ['HTTP_HOST', 'example.test'],
      ]);
    for (const io of ['native', 'libuv', 'net'] as const) {
      test(`uwsgi on ${io}, ${kind}`, async () => {
        const server = await startUwsgiGateway({ io, app });
        try {
          for (const target of targets) {
            const reply = parseHead((await exchange(server.port, uwsgi(target))).bytes);
            assert.equal(reply.status, Number(target.slice(1, 4)), target);
            assert.equal(lengthOf(reply), undefined, `${target}: content-length ${lengthOf(reply)}`);
            assert.equal(reply.body.length, 0, target);
          }
          const head = parseHead((await exchange(server.port, uwsgi('/', 'HEAD'))).bytes);
          assert.equal(lengthOf(head), '5', 'HEAD declares the length GET would send');
        } finally {
          await server.close();
        }
      });
    }
    test(`FastCGI, ${kind}`, async () => {
      const server = await startFastcgiGateway({ app });
      try {
        const socket = await openSocket(server.port);
        const reader = new ReplyReader(socket);
        for (const target of targets) {
          socket.write(
            Buffer.concat([
              begin(1, { keepConn: true }),
              params(
                1,
                pairs([
                  ['REQUEST_METHOD', 'GET'],
                  ['REQUEST_URI', target],
                ]),
              ),
              stdin(1, ''),
            ]),
          );
          const reply = parseHead((await reader.response(1)).stdout);
          assert.equal(reply.status, Number(target.slice(1, 4)), target);
          assert.equal(lengthOf(reply), undefined, `${target}: content-length ${lengthOf(reply)}`);
          assert.equal(reply.body.length, 0, target);
        }
        socket.destroy();
      } finally {
        await server.close();
      }
    });
  }
});

describe('HTTP front', () => {
  test('Expect: 100-continue over limit-post gets 413 at once, never 100', async () => {
    const pier = await startServe([
      '--http-socket',
      '127.0.0.1:0',
      '--app',
      fixture('framing-fetch-app.js'),
      '--limit-post',
      '1k',
    ]);
    try {
      const port = Number(pier.addresses[0]?.address.split(':')[1]);
      const socket = await openSocket(port);
      const first = new Promise<string>((resolve) =>
        socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1'))),
      );
      socket.write(
        'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\nExpect: 100-continue\r\n\r\n',
      );
      const reply = await first;
      socket.destroy();
      assert.match(reply, /^HTTP\/1\.1 413 /);
      assert.doesNotMatch(reply, /100 Continue/);
      // Within the limit, the client is still invited to send.
      const small = await openSocket(port);
      const invited = new Promise<string>((resolve) =>
        small.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1'))),
      );
      small.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
      assert.match(await invited, /^HTTP\/1\.1 100 Continue/);
      small.destroy();
    } finally {
      await pier.stop();
    }
  });

  test('a request the parser refuses, and one without Host, each get a 400 and one access line', async () => {
    const pier = await startServe(['--http-socket', '127.0.0.1:0', '--app', fixture('framing-fetch-app.js')]);
    try {
      const port = Number(pier.addresses[0]?.address.split(':')[1]);
      const noHost = await exchange(port, Buffer.from('GET /no-host HTTP/1.1\r\n\r\n'));
      assert.match(noHost.bytes.toString('latin1'), /^HTTP\/1\.1 400 /);
      const garbage = await exchange(port, Buffer.from('GET /bad HTTP/1.1\r\nHost x\r\n\r\n'));
      assert.match(garbage.bytes.toString('latin1'), /^HTTP\/1\.1 400 /);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.match(pier.output(), /"GET \/no-host HTTP\/1\.1" 400 /);
      assert.match(pier.output(), /"GET \/bad HTTP\/1\.1" 400 /);
      assert.equal(pier.output().trim().split('\n').length, 2, pier.output());
      assert.match(pier.log(), /GET \/no-host: bad request: an HTTP\/1\.1 request without a Host header/);
    } finally {
      await pier.stop();
    }
  });

  test("an app's Content-Length that contradicts its body never frames the next response on the connection", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pier-length-'));
    const app = path.join(dir, 'length.mjs');
    writeFileSync(
      app,
      `export default { fetch(request) {
        const url = new URL(request.url);
        const n = url.searchParams.get('n');
        if (url.pathname === '/stream') return new Response(new Blob(['abcdef']).stream(), { headers: { 'content-length': n } });
        if (url.pathname === '/whole') return new Response('abcdef', { headers: { 'content-length': n } });
        return new Response('next');
      } };\n`,
    );
    const pier = await startServe(['--http-socket', '127.0.0.1:0', '--app', app]);
    try {
      const port = Number(pier.addresses[0]?.address.split(':')[1]);
      const twice = (first: string): Promise<string> =>
        exchange(
          port,
          Buffer.from(
            `GET ${first} HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
          ),
        ).then((reply) => reply.bytes.toString('latin1'));
      // A whole body: its own length is sent, whatever the app declared.
      for (const n of ['2', '10', 'abc']) {
        const reply = await twice(`/whole?n=${n}`);
        assert.match(reply, /content-length: 6\r\n(?:[^\r\n]+\r\n)*\r\nabcdefHTTP\/1\.1 200 OK\r\n/, reply);
        assert.match(reply, /\r\n\r\nnext$/, reply);
      }
      // A stream longer than declared: the connection ends, no byte is taken for the next response.
      const streamed = await twice('/stream?n=2');
      assert.doesNotMatch(streamed, /cdef|abHTTP/, streamed);
    } finally {
      await pier.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a streamed body that runs past its Content-Length, or ends short, is cut and reset, never whole-looking', async () => {
    const pier = await startServe(['--http-socket', '127.0.0.1:0', '--app', fixture('wrong-length-app.js')]);
    try {
      const port = Number(pier.addresses[0]?.address.split(':')[1]);
      const get = (target: string) =>
        exchange(port, Buffer.from(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      const exact = await get('/exact');
      assert.equal(parseHead(exact.bytes).body.toString(), '0123456789');
      for (const target of ['/long', '/short']) {
        const reply = await get(target);
        // Ten bytes would look whole: /long's first ten are held back until the body ends.
        const text = reply.bytes.toString('latin1');
        const body = text.includes('\r\n\r\n') ? text.slice(text.indexOf('\r\n\r\n') + 4) : '';
        assert.ok(body.length < 10, `${target}: ${text}`);
        assert.equal(reply.ended, 'reset', target);
      }
      await pier.waitForLog(/GET \/long: app error: the app's body runs past its Content-Length of 10 bytes/);
      await pier.waitForLog(/GET \/short: app error: the app's body ended after 5 of the 10 bytes/);
    } finally {
      await pier.stop();
    }
  });

  test('http-keepalive 0 closes the connection after each response (it used to keep it for ever)', async () => {
    const pier = await startServe([
      '--http-socket',
      '127.0.0.1:0',
      '--app',
      echoApp,
      '--http-keepalive',
      '0',
    ]);
    try {
      const port = Number(pier.addresses[0]?.address.split(':')[1]);
      const started = Date.now();
      // No Connection: close from the client: the server ends the exchange itself.
      const reply = await exchange(port, Buffer.from('GET /a HTTP/1.1\r\nHost: x\r\n\r\n'));
      assert.match(reply.bytes.toString('latin1'), /^HTTP\/1\.1 200 [\s\S]*\r\nConnection: close\r\n/i);
      assert.ok(Date.now() - started < 4000, 'closed by the server, not by a timeout');
    } finally {
      await pier.stop();
    }
  });

  test('the URL the app sees: Host checked (RFC 9112 §3.2), absolute-form and * targets (§3.2.2)', async () => {
    const pier = await startServe(['--http-socket', '127.0.0.1:0', '--app', echoApp]);
    try {
      const port = Number(pier.addresses[0]?.address.split(':')[1]);
      const ask = async (request: string): Promise<{ status: string; echo?: EchoReport }> => {
        const reply = (await exchange(port, Buffer.from(request))).bytes.toString('latin1');
        const body = reply.slice(reply.indexOf('\r\n\r\n') + 4);
        return {
          status: reply.slice(9, 12),
          echo: reply.startsWith('HTTP/1.1 200') ? JSON.parse(body) : undefined,
        };
      };
      const get = (target: string, ...hosts: string[]): string =>
        `GET ${target} HTTP/1.1\r\n${hosts.map((h) => `Host: ${h}\r\n`).join('')}Connection: close\r\n\r\n`;
      for (const host of ['x\\admin', 'x#', 'x?y', 'h/admin', 'a b', 'a@b', 'x%2Fadmin']) {
        assert.equal((await ask(get('/users', host))).status, '400', `Host ${host}`);
      }
      assert.equal((await ask(get('/users', 'a', 'b'))).status, '400', 'two Host lines');
      assert.equal((await ask(get('users', 'a'))).status, '400', 'a target that is no path or URL');
      assert.equal((await ask(get('ftp://a/users', 'a'))).status, '400', 'an absolute URL of another scheme');
      for (const host of ['example.test', 'example.test:8080', '[::1]:9090', '192.0.2.1']) {
        const { status, echo } = await ask(get('/users?q=1', host));
        assert.equal(status, '200', `Host ${host}`);
        assert.equal(echo?.path, '/users');
        assert.equal(echo?.headers.host, host);
      }
      // Absolute-form: the target's authority is the one that counts, path and query as sent.
      const absolute = await ask(get('http://other.test/abs?q=1', 'x'));
      assert.equal(absolute.echo?.path, '/abs');
      assert.equal(absolute.echo?.rawQuery, 'q=1');
      const star = await ask('OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.equal(star.status, '200');
      assert.equal(star.echo?.path, '/');
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.match(
        pier.log(),
        /GET \/users: bad request: the Host header "x\\\\admin" is not a valid host\[:port\]/,
      );
      assert.match(pier.log(), /GET \/users: bad request: more than one Host header/);
    } finally {
      await pier.stop();
    }
  });
});

describe('gateway requests carry one framing', () => {
  const declared: Var[] = [
    ['REQUEST_METHOD', 'PUT'],
    ['REQUEST_URI', '/put'],
    ['HTTP_HOST', 'example.test'],
    ['HTTP_TRANSFER_ENCODING', 'chunked'],
    ['CONTENT_LENGTH', '5'],
  ];
  const check = (echo: EchoReport): void => {
    assert.equal(echo.headers['transfer-encoding'], undefined, 'a de-chunked body still claims chunked');
    assert.equal(echo.headers['content-length'], '5');
    assert.equal(echo.bodyLength, 5);
  };
  test('uwsgi: CONTENT_LENGTH given, no transfer-encoding for the app', async () => {
    const server: GatewayServer = await startUwsgiGateway();
    try {
      const reply = await exchange(server.port, uwsgiPacket(declared, { body: 'hello' }));
      check(JSON.parse(parseHead(reply.bytes).body.toString()) as EchoReport);
    } finally {
      await server.close();
    }
  });
  test('FastCGI: CONTENT_LENGTH given, no transfer-encoding for the app', async () => {
    const server = await startFastcgiGateway();
    try {
      const socket = await openSocket(server.port);
      const reader = new ReplyReader(socket);
      socket.write(
        Buffer.concat([begin(1), params(1, pairs(declared as Array<[string, string]>)), stdin(1, 'hello')]),
      );
      check(JSON.parse(parseHead((await reader.response(1)).stdout).body.toString()) as EchoReport);
      socket.destroy();
    } finally {
      await server.close();
    }
  });
});
