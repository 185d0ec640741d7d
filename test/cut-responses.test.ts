// A response the server cuts short (harakiri, the app failing after its head) must never look
// complete to the client, on any front and for both handler kinds: over HTTP the connection is
// reset (HTTP/1.0 and bodies without Content-Length would otherwise end cleanly at the close),
// gateways reset theirs. The app is told to stop, and the request gets one access record.
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { describe, test } from 'node:test';
import { type App, toApp } from '../src/server/app/handler.js';
import { endlessFetch, endlessNode, newTally } from './fixtures/endless-apps.js';
import { begin, pairs, params, stdin } from './fixtures/fastcgi/records.js';
import { uwsgiPacket } from './fixtures/uwsgi/packet.js';
import { ReplyReader } from './helpers/fastcgi-client.js';
import { startFastcgiGateway, startUwsgiGateway } from './helpers/gateway-server.js';
import { repoRoot } from './helpers/paths.js';
import { exchange, openSocket, parseHead } from './helpers/raw-client.js';
import { startServe } from './helpers/serve.js';

const fixture = (name: string): string => path.join(repoRoot, 'dist/test/fixtures', name);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('HTTP front', () => {
  const cases = [
    { name: 'fetch app, harakiri mid-body', app: fixture('slow-app.js'), log: /harakiri/ },
    { name: 'Node listener, harakiri mid-body', app: fixture('lines-node-app.js'), log: /harakiri/ },
    { name: 'fetch app failing after its head', app: fixture('cut-app.js'), log: /database went away/ },
  ];
  for (const { name, app, log } of cases) {
    test(`${name}, read over HTTP/1.0: reset, not a clean end; one access line`, async () => {
      const pier = await startServe([
        '--http-socket',
        '127.0.0.1:0',
        '--app',
        app,
        '--harakiri',
        '1',
        '--processes',
        '1',
      ]);
      try {
        const port = Number(pier.addresses[0]?.address.split(':')[1]);
        const reply = await exchange(port, Buffer.from('GET /lines HTTP/1.0\r\nHost: x\r\n\r\n'));
        const body = reply.bytes.subarray(reply.bytes.indexOf('\r\n\r\n') + 4);
        assert.match(reply.bytes.toString('latin1'), /^HTTP\/1\.1 200 /);
        assert.ok(body.length < 680, `${body.length} bytes: the whole body arrived`);
        assert.equal(reply.ended, 'reset', `a cut response ended cleanly after ${body.length} bytes`);
        await sleep(200);
        assert.match(pier.log(), log);
        assert.equal(pier.output().match(/"GET \/lines /g)?.length, 1, pier.output());
      } finally {
        await pier.stop();
      }
    });
  }
});

const uwsgiRequest = uwsgiPacket([
  ['REQUEST_METHOD', 'GET'],
  ['REQUEST_URI', '/endless'],
  ['HTTP_HOST', 'example.test'],
]);

/** A kept-connection FastCGI GET of `uri`: the reply as far as it came, and the reader (closed?). */
async function fastcgiGet(port: number, uri: string) {
  const socket = await openSocket(port);
  const reader = new ReplyReader(socket);
  const records = [
    begin(1, { keepConn: true }),
    params(
      1,
      pairs([
        ['REQUEST_METHOD', 'GET'],
        ['REQUEST_URI', uri],
      ]),
    ),
    stdin(1, ''),
  ];
  socket.write(Buffer.concat(records));
  return { response: await reader.response(1), reader };
}

describe('gateways: harakiri mid-body', () => {
  for (const kind of ['fetch', 'node'] as const) {
    const make = (): { app: App; stopped: () => boolean } => {
      const tally = newTally();
      return kind === 'fetch'
        ? { app: endlessFetch(tally), stopped: () => tally.cancelled === 1 }
        : { app: endlessNode(tally), stopped: () => tally.reqClosed === 1 && tally.resClosed === 1 };
    };
    for (const io of ['native', 'libuv', 'net'] as const) {
      test(`uwsgi on ${io}, ${kind} app: reset, the app told to stop, one record`, async () => {
        const { app, stopped } = make();
        const server = await startUwsgiGateway({ io, app, limits: { harakiriMs: 300 } });
        try {
          const reply = await exchange(server.port, uwsgiRequest);
          assert.equal(parseHead(reply.bytes).status, 200);
          assert.equal(reply.ended, 'reset');
          await sleep(100);
          assert.ok(stopped(), 'the app was not told to stop');
          assert.equal(server.records.length, 1);
          assert.match(server.logs.join('\n'), /harakiri/);
        } finally {
          await Promise.race([server.close(), sleep(3000)]);
        }
      });
    }
    test(`FastCGI, ${kind} app: no END_REQUEST, reset, the app told to stop, one record`, async () => {
      const { app, stopped } = make();
      const server = await startFastcgiGateway({ app, limits: { harakiriMs: 300 } });
      try {
        const { response, reader } = await fastcgiGet(server.port, '/endless');
        assert.equal(response.end, null);
        assert.equal(reader.closed, true);
        await sleep(100);
        assert.ok(stopped(), 'the app was not told to stop');
        assert.equal(server.records.length, 1);
      } finally {
        await Promise.race([server.close(), sleep(3000)]);
      }
    });
  }
});

describe('gateways: a Node listener that destroys its response after the head', () => {
  const destroyer = (): App =>
    toApp((_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      setTimeout(() => res.destroy(new Error('destroyed')), 20);
    }, 'destroyer');

  test('uwsgi: reset at once, logged as the app error it is, one record', async () => {
    const server = await startUwsgiGateway({ io: 'net', app: destroyer() });
    try {
      const started = Date.now();
      const reply = await exchange(server.port, uwsgiRequest);
      assert.equal(parseHead(reply.bytes).status, 200);
      assert.equal(reply.ended, 'reset', 'a cut response ended cleanly');
      assert.ok(Date.now() - started < 5000, 'the client waited');
      await sleep(100);
      assert.match(
        server.logs.join('\n'),
        /app error: the app destroyed its response before it ended \(res\.destroy\): destroyed/,
      );
      assert.equal(server.records.length, 1);
    } finally {
      await Promise.race([server.close(), sleep(3000)]);
    }
  });

  test('FastCGI: no END_REQUEST, reset', async () => {
    const server = await startFastcgiGateway({ app: destroyer() });
    try {
      const { response, reader } = await fastcgiGet(server.port, '/destroy');
      assert.equal(response.end, null);
      assert.equal(reader.closed, true);
      assert.match(server.logs.join('\n'), /the app destroyed its response before it ended/);
    } finally {
      await Promise.race([server.close(), sleep(3000)]);
    }
  });
});
