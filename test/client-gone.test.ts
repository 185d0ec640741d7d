// A client that goes away mid-response, on every front and for both handler kinds: the fetch
// body stops being pulled and its cancel() runs, a Node listener's req and res get 'close', the
// request gets one access record (499), and nothing is logged as an app error.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { App } from '../src/server/app/handler.js';
import { endlessFetch, endlessNode, newTally, type Tally } from './fixtures/endless-apps.js';
import { begin, pairs, params, stdin } from './fixtures/fastcgi/records.js';
import { uwsgiPacket } from './fixtures/uwsgi/packet.js';
import { type GatewayServer, startFastcgiGateway, startUwsgiGateway } from './helpers/gateway-server.js';
import { http } from './helpers/net.js';
import { repoRoot } from './helpers/paths.js';
import { openSocket } from './helpers/raw-client.js';
import { startServe } from './helpers/serve.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `count` bytes (of whatever framing) have arrived on `socket`. */
function received(socket: Socket, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => reject(new Error(`only ${seen} of ${count} bytes in 5 s`)), 5000);
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen >= count) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

/** The app kept going for nobody: counts still moving after the client left. */
async function assertStopped(tally: Tally, kind: 'fetch' | 'node'): Promise<void> {
  await sleep(400);
  const before = { ...tally };
  await sleep(400);
  if (kind === 'fetch') {
    assert.equal(tally.pulls, before.pulls, 'the body was still pulled after the client left');
    assert.equal(tally.cancelled, 1, "the body's cancel() did not run");
  } else {
    assert.equal(tally.ticks, before.ticks, 'the listener still wrote after the client left');
    assert.deepEqual([tally.reqClosed, tally.resClosed], [1, 1], "req and res did not get 'close'");
  }
}

const uwsgiRequest = uwsgiPacket([
  ['REQUEST_METHOD', 'GET'],
  ['REQUEST_URI', '/endless'],
  ['SERVER_PROTOCOL', 'HTTP/1.1'],
  ['HTTP_HOST', 'example.test'],
]);
const fastcgiRequest = Buffer.concat([
  begin(1),
  params(
    1,
    pairs([
      ['REQUEST_METHOD', 'GET'],
      ['REQUEST_URI', '/endless'],
      ['SERVER_PROTOCOL', 'HTTP/1.1'],
      ['HTTP_HOST', 'example.test'],
    ]),
  ),
  stdin(1, ''),
]);

const fronts: Array<{
  name: string;
  start: (app: App) => Promise<GatewayServer>;
  request: Buffer;
}> = [
  ...(['native', 'libuv', 'net'] as const).map((io) => ({
    name: `uwsgi on ${io}`,
    start: (app: App) => startUwsgiGateway({ io, app }),
    request: uwsgiRequest,
  })),
  { name: 'FastCGI', start: (app: App) => startFastcgiGateway({ app }), request: fastcgiRequest },
];

for (const front of fronts) {
  describe(`client gone: ${front.name}`, () => {
    for (const kind of ['fetch', 'node'] as const) {
      test(`${kind} app: stops, is told, one 499 record, no app error`, async () => {
        const tally = newTally();
        const server = await front.start(kind === 'fetch' ? endlessFetch(tally) : endlessNode(tally));
        try {
          const socket = await openSocket(server.port);
          const three = received(socket, 150);
          socket.write(front.request);
          await three;
          socket.destroy();
          await assertStopped(tally, kind);
          assert.deepEqual(
            server.records.map((r) => [r.target, r.status]),
            [['/endless', 499]],
          );
          assert.deepEqual(server.logs, []);
        } finally {
          await Promise.race([server.close(), sleep(3000)]);
        }
      });
    }
  });
}

test('HTTP: a client closing after 100 KB of a 64 KiB-chunk stream is no app error; the body is cancelled', async () => {
  const pier = await startServe([
    '--http-socket',
    '127.0.0.1:0',
    '--app',
    path.join(repoRoot, 'dist/test/fixtures/endless-app.js'),
    '--processes',
    '1',
  ]);
  try {
    const [host, port] = (pier.addresses[0]?.address ?? '').split(':');
    const socket = await openSocket(Number(port), host);
    const enough = received(socket, 100_000);
    socket.write('GET /stream?size=65536 HTTP/1.1\r\nHost: x\r\nUser-Agent: gone-test\r\n\r\n');
    await enough;
    socket.destroy();
    await sleep(500);
    const first = JSON.parse((await http(`${pier.url}/tally`)).body.toString()) as Tally;
    await sleep(300);
    const second = JSON.parse((await http(`${pier.url}/tally`)).body.toString()) as Tally;
    assert.equal(second.pulls, first.pulls, 'the body was still pulled after the client left');
    assert.equal(second.cancelled, 1);
    assert.doesNotMatch(pier.log(), /WARN|app error/);
    // The client is named though its connection is gone by the time the record is written.
    assert.match(
      pier.output(),
      /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/stream\?size=65536 HTTP\/1\.1" 499 \d+ "-" "gone-test"/m,
    );
    assert.equal(pier.output().match(/\/stream/g)?.length, 1, pier.output());
  } finally {
    await pier.stop();
  }
});
