// A request body that never arrives does not hold a request forever: after socket-timeout
// without a body byte while the app waits, HTTP answers 408 and gateways answer 408 before the
// connection closes, with a log line and an access record, for both handler kinds.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { App } from '../src/server/app/handler.js';
import { loadApp } from '../src/server/app/load-app.js';
import { begin, pairs, params } from './fixtures/fastcgi/records.js';
import { uwsgiPacket } from './fixtures/uwsgi/packet.js';
import { ReplyReader } from './helpers/fastcgi-client.js';
import { startFastcgiGateway, startUwsgiGateway } from './helpers/gateway-server.js';
import { echoApp, repoRoot } from './helpers/paths.js';
import { exchange, openSocket, parseHead } from './helpers/raw-client.js';
import { startServe } from './helpers/serve.js';

const nodeListener = path.join(repoRoot, 'dist/test/fixtures/node-listener.js');
const apps: Array<[string, string]> = [
  ['fetch app', echoApp],
  ['Node listener', nodeListener],
];
const vars: Array<[string, string]> = [
  ['REQUEST_METHOD', 'POST'],
  ['REQUEST_URI', '/upload'],
  ['HTTP_HOST', 'example.test'],
  ['CONTENT_LENGTH', '94'],
];

describe('HTTP front', () => {
  for (const [kind, app] of apps) {
    test(`${kind}: Content-Length 94 and no body gets 408 after socket-timeout, logged`, async () => {
      const pier = await startServe(['--http-socket', '127.0.0.1:0', '--app', app, '--socket-timeout', '1']);
      try {
        const port = Number(pier.addresses[0]?.address.split(':')[1]);
        const started = Date.now();
        const reply = await exchange(
          port,
          Buffer.from('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 94\r\n\r\n'),
        );
        const waited = Date.now() - started;
        assert.match(reply.bytes.toString('latin1'), /^HTTP\/1\.1 408 /);
        assert.ok(waited >= 900 && waited < 3000, `answered after ${waited} ms`);
        await pier.waitForLog(/POST \/upload: no request body byte within 1000 ms/);
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.match(pier.output(), /"POST \/upload HTTP\/1\.1" 408 /);
        assert.doesNotMatch(pier.log(), /app error/);
      } finally {
        await pier.stop();
      }
    });
  }
});

describe('gateways', () => {
  for (const [kind, file] of apps) {
    const load = (): Promise<App> => loadApp(file);
    for (const io of ['native', 'libuv', 'net'] as const) {
      test(`uwsgi on ${io}, ${kind}: 408 after the body timeout, logged, recorded`, async () => {
        const server = await startUwsgiGateway({ io, app: await load(), limits: { bodyTimeoutMs: 300 } });
        try {
          const reply = await exchange(server.port, uwsgiPacket(vars));
          assert.equal(parseHead(reply.bytes).status, 408);
          assert.match(
            server.logs.join('\n'),
            /POST \/upload: bad request: no request body byte within 300 ms/,
          );
          assert.deepEqual(
            server.records.map((r) => r.status),
            [408],
          );
        } finally {
          await server.close();
        }
      });
    }
    test(`FastCGI, ${kind}: 408 after the body timeout, logged, recorded`, async () => {
      const server = await startFastcgiGateway({ app: await load(), limits: { bodyTimeoutMs: 300 } });
      try {
        const socket = await openSocket(server.port);
        const reader = new ReplyReader(socket);
        socket.write(Buffer.concat([begin(1), params(1, pairs(vars))]));
        const response = await reader.response(1, 3000);
        assert.equal(parseHead(response.stdout).status, 408);
        assert.match(
          server.logs.join('\n'),
          /POST \/upload: bad request: no request body byte within 300 ms/,
        );
        assert.deepEqual(
          server.records.map((r) => r.status),
          [408],
        );
        socket.destroy();
      } finally {
        await server.close();
      }
    });
  }
});
