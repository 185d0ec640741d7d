// The uwsgi front-end on real loopback sockets with the echo app: handcrafted packets in, raw
// HTTP out. Every case runs on the three transports: pier's native one, libuv handles driven
// directly, and net.Socket.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { EchoReport } from '../examples/echo/app.js';
import { toApp } from '../src/server/app/handler.js';
import { LightResponse } from '../src/server/app/light-response.js';
import { nativeIo } from '../src/server/gateway/native-conn.js';
import { failsMidBody, neverAnswers } from './fixtures/failing-apps.js';
import { uwsgiPacket, type Var } from './fixtures/uwsgi/packet.js';
import { type GatewayServer, startUwsgiGateway } from './helpers/gateway-server.js';
import { exchange, openSocket, parseHead, readUntilClose } from './helpers/raw-client.js';

const base: Var[] = [
  ['SERVER_PROTOCOL', 'HTTP/1.1'],
  ['REMOTE_ADDR', '192.0.2.7'],
  ['REMOTE_PORT', '40000'],
  ['SERVER_NAME', 'example.test'],
  ['SERVER_PORT', '80'],
  ['HTTP_HOST', 'example.test'],
];

// 8 MiB answered whole (the light Response workers build, written at once) or streamed in
// 64 KiB chunks: more than the socket buffers hold, so writes wait for a slow reader.
const big = randomBytes(8 * 1024 * 1024);
const bigApp = toApp((req: Request) => {
  if (!new URL(req.url).searchParams.has('stream')) return new LightResponse(big) as unknown as Response;
  let at = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= big.length) return controller.close();
      controller.enqueue(big.subarray(at, at + 65536));
      at += 65536;
    },
  });
  return new Response(body);
}, 'big');

function request(method: string, uri: string, extra: Var[] = [], body?: Buffer): Buffer {
  const vars: Var[] = [['REQUEST_METHOD', method], ['REQUEST_URI', uri], ...base, ...extra];
  if (body) vars.push(['CONTENT_LENGTH', String(body.length)]);
  return uwsgiPacket(vars, body ? { body } : {});
}

for (const io of ['native', 'libuv', 'net'] as const) {
  describe(`uwsgi front-end on ${io}`, () => {
    let gateway: GatewayServer;
    let limited: GatewayServer;
    before(async () => {
      gateway = await startUwsgiGateway({ io });
      limited = await startUwsgiGateway({
        io,
        limits: { limitPost: 1024, bufferSize: 2048, headersTimeoutMs: 300 },
      });
    });
    after(async () => {
      await gateway.close();
      await limited.close();
    });

    test('the transport asked for is the one serving: nothing fell back', async () => {
      // npm ci builds the native transport (scripts/build-native.mjs); without it this fails.
      if (io === 'native')
        assert.ok(nativeIo(), `the native transport is not built: run npm run build:native`);
      await exchange(gateway.port, request('GET', '/'));
      assert.deepEqual(
        gateway.logs.filter((line) => line.includes('serving on')),
        [],
      );
    });

    test('a GET is answered in raw HTTP and the connection closes; the request is recorded', async () => {
      const reply = await exchange(
        gateway.port,
        request('GET', '/hello?x=1&x=2', [['HTTP_USER_AGENT', 'ua/1']]),
      );
      assert.equal(reply.ended, 'close');
      const http = parseHead(reply.bytes);
      assert.equal(http.statusLine, 'HTTP/1.1 200 OK');
      const echo = JSON.parse(http.body.toString()) as EchoReport;
      assert.equal(echo.path, '/hello');
      assert.deepEqual(echo.query.x, ['1', '2']);
      assert.equal(echo.headers['user-agent'], 'ua/1');
      const record = gateway.records.find((r) => r.target === '/hello?x=1&x=2');
      assert.equal(record?.status, 200);
      assert.equal(record?.remoteAddress, '192.0.2.7');
      assert.equal(record?.userAgent, 'ua/1');
      assert.equal(record?.bytes, http.body.length);
    });

    test('a 5 MiB body streams through to the app intact (SHA-256)', async () => {
      const body = randomBytes(5 * 1024 * 1024);
      const packet = request('POST', '/upload', [['CONTENT_TYPE', 'application/octet-stream']], body);
      const socket = await openSocket(gateway.port);
      const done = readUntilClose(socket);
      for (let at = 0; at < packet.length; at += 256 * 1024)
        socket.write(packet.subarray(at, at + 256 * 1024));
      const echo = JSON.parse(parseHead((await done).bytes).body.toString()) as EchoReport;
      assert.equal(echo.bodyLength, body.length);
      assert.equal(echo.bodySha256, createHash('sha256').update(body).digest('hex'));
    });

    test('HEAD gets the head only; 204 and 304 get no body', async () => {
      const head = parseHead((await exchange(gateway.port, request('HEAD', '/'))).bytes);
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      for (const status of [204, 304]) {
        const reply = parseHead((await exchange(gateway.port, request('GET', `/?status=${status}`))).bytes);
        assert.equal(reply.status, status);
        assert.equal(reply.body.length, 0);
      }
    });

    test('repeated Set-Cookie headers stay separate lines', async () => {
      const reply = parseHead(
        (await exchange(gateway.port, request('GET', '/?cookie=a%3D1&cookie=b%3D2'))).bytes,
      );
      assert.deepEqual(
        reply.headers.filter(([name]) => name === 'set-cookie').map(([, value]) => value),
        ['a=1', 'b=2'],
      );
    });

    test('a body over limit-post is refused with 413 before it is read', async () => {
      const reply = await exchange(limited.port, request('POST', '/big', [], Buffer.alloc(4096, 1)));
      assert.equal(parseHead(reply.bytes).status, 413);
      assert.match(limited.logs.at(-1) ?? '', /limit-post/);
    });

    test('vars over buffer-size get 431', async () => {
      const reply = await exchange(limited.port, request('GET', '/', [['HTTP_COOKIE', 'c'.repeat(3000)]]));
      const http = parseHead(reply.bytes);
      assert.equal(http.status, 431);
      assert.match(http.body.toString(), /buffer-size/);
    });

    test('a malformed packet gets 400 with the reason; the server keeps serving', async () => {
      const before = gateway.records.length;
      const reply = await exchange(gateway.port, uwsgiPacket([['REQUEST_METHOD', 'GET']], { modifier1: 5 }));
      const http = parseHead(reply.bytes);
      assert.equal(http.status, 400);
      assert.match(http.body.toString(), /modifier1 5/);
      // No REMOTE_ADDR was read: the access record names the peer by its address alone.
      assert.equal(gateway.records.at(before)?.remoteAddress, '127.0.0.1');
      assert.equal(parseHead((await exchange(gateway.port, request('GET', '/'))).bytes).status, 200);
    });

    test('a header var with CR/LF is a 400 naming it, counted with its body bytes; never a 500', async () => {
      const before = gateway.records.length;
      const reply = await exchange(
        gateway.port,
        request('GET', '/crlf', [['HTTP_X_BAD', 'v\r\nInjected: 1']]),
      );
      const http = parseHead(reply.bytes);
      assert.equal(http.status, 400);
      assert.match(http.body.toString(), /request header "x-bad"/);
      const record = gateway.records.at(before);
      assert.equal(record?.status, 400);
      assert.equal(record?.bytes, http.body.length);
    });

    test('a truncated packet then close: one log line, no crash, the next request works', async () => {
      const before = gateway.logs.length;
      const whole = request('GET', '/truncated');
      const reply = await exchange(gateway.port, whole.subarray(0, whole.length - 4), { end: true });
      assert.equal(parseHead(reply.bytes).status, 400);
      assert.equal(gateway.logs.length, before + 1);
      assert.match(gateway.logs.at(-1) ?? '', /truncated/);
      assert.doesNotMatch(gateway.logs.at(-1) ?? '', /\n|\bat /);
      assert.equal(parseHead((await exchange(gateway.port, request('GET', '/'))).bytes).status, 200);
    });

    test('a body shorter than CONTENT_LENGTH when the peer closes: the app read fails, logged once', async () => {
      const before = gateway.logs.length;
      const whole = request('POST', '/short', [], Buffer.alloc(1000, 1));
      const socket = await openSocket(gateway.port);
      const done = readUntilClose(socket);
      socket.end(whole.subarray(0, whole.length - 500));
      await done;
      await new Promise((resolve) => setTimeout(resolve, 50));
      const lines = gateway.logs.slice(before);
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0] ?? '', /POST \/short: bad request: request body truncated/);
    });

    test('a slow client gets 408 after headers-timeout', async () => {
      const socket = await openSocket(limited.port);
      const done = readUntilClose(socket);
      socket.write(request('GET', '/slow').subarray(0, 10));
      const started = Date.now();
      const reply = await done;
      assert.equal(parseHead(reply.bytes).status, 408);
      assert.ok(Date.now() - started < 2000);
      assert.match(limited.logs.at(-1) ?? '', /within 300 ms/);
    });

    test('a port probe (connect, close) is not logged', async () => {
      const before = gateway.logs.length;
      const socket = await openSocket(gateway.port);
      socket.end();
      await readUntilClose(socket);
      assert.equal(gateway.logs.length, before);
    });

    test('harakiri: a request still unanswered at its deadline gets 504', async () => {
      const server = await startUwsgiGateway({ io, app: neverAnswers, limits: { harakiriMs: 200 } });
      try {
        const reply = await exchange(server.port, request('GET', '/stuck'));
        assert.equal(parseHead(reply.bytes).status, 504);
        assert.match(server.logs.join('\n'), /harakiri/);
      } finally {
        await server.close();
      }
    });

    test('8 MiB responses, whole and streamed, reach a reader that starts late intact', async () => {
      const server = await startUwsgiGateway({ io, app: bigApp });
      try {
        for (const uri of ['/whole', '/streamed?stream=1']) {
          const socket = await openSocket(server.port);
          socket.pause();
          const done = readUntilClose(socket);
          socket.write(request('GET', uri));
          await new Promise((resolve) => setTimeout(resolve, 300));
          socket.resume();
          const reply = await done;
          assert.equal(reply.ended, 'close', uri);
          const http = parseHead(reply.bytes);
          assert.equal(http.status, 200, uri);
          assert.equal(http.body.length, big.length, uri);
          assert.ok(http.body.equals(big), `${uri}: the body differs from what the app sent`);
        }
        assert.equal(server.records.length, 2);
      } finally {
        await server.close();
      }
    });

    test('an app failing after its head: the connection is reset, so nginx cannot take it as complete', async () => {
      const server = await startUwsgiGateway({ io, app: failsMidBody });
      try {
        const reply = await exchange(server.port, request('GET', '/cut'));
        assert.equal(reply.ended, 'reset');
        assert.match(server.logs.join('\n'), /database went away/);
      } finally {
        await server.close();
      }
    });
  });
}
