// The health probe's HTTP over a forwarded channel. The channel here is a plain TCP connection
// to a local server (what a direct-tcpip channel carries, without the SSH around it): the SSH
// side is tested for real in test/fleet-health-tunnel.test.ts.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { after, before, test } from 'node:test';
import { type Connection, ForwardingRefused } from './connection.js';
import { getThroughTunnel } from './tunnel-http.js';

let server: Server;
let port = 0;
const seen: Array<{ url: string; host?: string; authorization?: string }> = [];

before(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', host: req.headers.host, authorization: req.headers.authorization });
    if (req.url === '/big') {
      res.end('x'.repeat(3 * 1024 * 1024));
    } else if (req.url === '/slow') {
      setTimeout(() => res.end('late'), 2_000);
    } else {
      res.writeHead(req.url?.startsWith('/health') ? 200 : 503);
      res.end(`ok from ${req.url}`);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

/** A connection whose forward() connects straight to 127.0.0.1, recording what was asked. */
function direct(refuse = false, closed = false): Connection & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    isOpen: !closed,
    forward(host: string, to: number) {
      asked.push(`${host}:${to}`);
      if (refuse) return Promise.reject(new ForwardingRefused('administratively prohibited'));
      if (closed) return Promise.reject(new Error('Not connected'));
      return new Promise((resolve, reject) => {
        const socket = connect(to, '127.0.0.1');
        socket.once('connect', () => resolve(socket));
        socket.once('error', reject);
      });
    },
  } as unknown as Connection & { asked: string[] };
}

test('status, body and the Host header as the URL names them; credentials as Basic auth', async () => {
  const connection = direct();
  const answer = await getThroughTunnel(connection, `http://app.internal:${port}/health?x=1`, 2_000);
  assert.deepEqual(answer, { status: 200, body: 'ok from /health?x=1' });
  assert.deepEqual(connection.asked, [`app.internal:${port}`]);
  assert.deepEqual(seen.at(-1), {
    url: '/health?x=1',
    host: `app.internal:${port}`,
    authorization: undefined,
  });

  const failing = await getThroughTunnel(direct(), `http://u%40x:p%3Aw@127.0.0.1:${port}/down`, 2_000);
  assert.equal(failing.status, 503);
  assert.equal(seen.at(-1)?.authorization, `Basic ${Buffer.from('u@x:p:w').toString('base64')}`);
});

test('a body is read up to 1 MiB; nothing listening or a late answer is status 0', async () => {
  const big = await getThroughTunnel(direct(), `http://127.0.0.1:${port}/big`, 5_000);
  assert.equal(big.status, 200);
  assert.equal(big.body.length, 1024 * 1024);

  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const gone = (closed.address() as AddressInfo).port;
  closed.close();
  assert.deepEqual(await getThroughTunnel(direct(), `http://127.0.0.1:${gone}/`, 2_000), {
    status: 0,
    body: '',
  });

  const started = Date.now();
  assert.deepEqual(await getThroughTunnel(direct(), `http://127.0.0.1:${port}/slow`, 300), {
    status: 0,
    body: '',
  });
  assert.ok(Date.now() - started < 1_500, 'the probe gave up at its timeout');
});

test('a server that allows no forwarding is the one error that passes through', async () => {
  await assert.rejects(
    getThroughTunnel(direct(true), `http://127.0.0.1:${port}/health`, 1_000),
    ForwardingRefused,
  );
});
