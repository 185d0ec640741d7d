// serveFastcgi on real loopback sockets with the echo app: handcrafted records in, records out.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { EchoReport } from '../examples/echo/app.js';
import { loadApp } from '../src/server/app/load-app.js';
import { serveFastcgi } from '../src/server/fastcgi/serve-fastcgi.js';
import { adoptHandle, type StreamHandle } from '../src/server/gateway/socket-handoff.js';
import { failsMidBody, neverAnswers } from './fixtures/failing-apps.js';
import { begin, pairs, params, record, stdin, T } from './fixtures/fastcgi/records.js';
import { ReplyReader } from './helpers/fastcgi-client.js';
import { type GatewayServer, startFastcgiGateway, testLimits } from './helpers/gateway-server.js';
import { echoApp } from './helpers/paths.js';
import { openSocket, parseHead, readUntilClose } from './helpers/raw-client.js';

function requestRecords(
  id: number,
  method: string,
  uri: string,
  options: { keepConn?: boolean; body?: Buffer; extra?: Array<[string, string]> } = {},
): Buffer {
  const list: Array<[string, string]> = [
    ['REQUEST_METHOD', method],
    ['REQUEST_URI', uri],
    ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['REMOTE_ADDR', '192.0.2.9'],
    ['HTTP_HOST', 'example.test'],
    ...(options.extra ?? []),
  ];
  if (options.body) list.push(['CONTENT_LENGTH', String(options.body.length)]);
  return Buffer.concat([
    begin(id, { keepConn: options.keepConn ?? false }),
    params(id, pairs(list)),
    stdin(id, options.body ?? ''),
  ]);
}

async function connectTo(port: number) {
  const socket = await openSocket(port);
  return { socket, reader: new ReplyReader(socket) };
}

let gateway: GatewayServer;
let limited: GatewayServer;
before(async () => {
  gateway = await startFastcgiGateway();
  limited = await startFastcgiGateway({
    limits: { limitPost: 1024, bufferSize: 2048, headersTimeoutMs: 300 },
  });
});
after(async () => {
  await gateway.close();
  await limited.close();
});

test('keep-conn: two requests on one connection, each ended by empty STDOUT and END_REQUEST', async () => {
  const { socket, reader } = await connectTo(gateway.port);
  for (const uri of ['/first?n=1', '/second?n=2']) {
    socket.write(requestRecords(1, 'GET', uri, { keepConn: true }));
    const response = await reader.response(1);
    assert.deepEqual(response.end, { appStatus: 0, protocolStatus: 0 });
    assert.ok(response.stdoutClosed);
    const http = parseHead(response.stdout);
    assert.equal(http.statusLine, 'Status: 200 OK');
    assert.equal((JSON.parse(http.body.toString()) as EchoReport).rawQuery, uri.split('?')[1]);
  }
  assert.equal(reader.closed, false, 'the connection stays open');
  const served = gateway.connections.at(-1);
  assert.equal(served?.idle, true);
  served?.closeWhenIdle();
  await reader.until(() => false, 2000);
  assert.equal(reader.closed, true, 'closeWhenIdle closes an idle connection');
});

test('closeWhenIdle with a hand-off: the kept connection moves whole, and a request sent meanwhile reaches the adopter', async () => {
  const { socket, reader } = await connectTo(gateway.port);
  socket.write(requestRecords(1, 'GET', '/before', { keepConn: true }));
  await reader.response(1);
  const served = gateway.connections.at(-1);
  let handed: StreamHandle | undefined;
  served?.closeWhenIdle((handle) => {
    handed = handle;
  });
  assert.ok(handed, 'an idle kept connection is handed on at once');
  // The web server's next request leaves before anyone reads the connection again.
  socket.write(requestRecords(2, 'GET', '/after?n=2', { keepConn: true }));
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(reader.closed, false, 'handing on does not close the connection');
  const logs: string[] = [];
  serveFastcgi(
    adoptHandle(handed),
    { app: await loadApp(echoApp), limits: testLimits, log: (line) => logs.push(line), onRequest: () => {} },
    true,
  );
  for (const [id, query] of [
    [2, 'n=2'],
    [3, 'n=3'],
  ] as const) {
    if (id === 3) socket.write(requestRecords(3, 'GET', `/again?${query}`, { keepConn: true }));
    const http = parseHead((await reader.response(id)).stdout);
    assert.equal(http.statusLine, 'Status: 200 OK');
    assert.equal((JSON.parse(http.body.toString()) as EchoReport).rawQuery, query);
  }
  assert.equal(reader.closed, false, 'the adopter keeps the connection');
  assert.deepEqual(logs, []);
  socket.destroy();
});

test('without keep-conn the connection closes after END_REQUEST', async () => {
  const { socket, reader } = await connectTo(gateway.port);
  socket.write(requestRecords(5, 'GET', '/once'));
  const response = await reader.response(5);
  assert.deepEqual(response.end, { appStatus: 0, protocolStatus: 0 });
  await reader.until(() => false, 2000);
  assert.equal(reader.closed, true);
});

test('a 5 MiB body in STDIN records reaches the app intact (SHA-256)', async () => {
  const body = randomBytes(5 * 1024 * 1024);
  const { socket, reader } = await connectTo(gateway.port);
  socket.write(requestRecords(1, 'POST', '/upload', { body }));
  const response = await reader.response(1);
  const echo = JSON.parse(parseHead(response.stdout).body.toString()) as EchoReport;
  assert.equal(echo.bodyLength, body.length);
  assert.equal(echo.bodySha256, createHash('sha256').update(body).digest('hex'));
});

test('HEAD: head only; 204: no body; streamed response arrives in pieces', async () => {
  const { socket, reader } = await connectTo(gateway.port);
  socket.write(requestRecords(1, 'HEAD', '/', { keepConn: true }));
  assert.equal(parseHead((await reader.response(1)).stdout).body.length, 0);
  socket.write(requestRecords(1, 'GET', '/?status=204', { keepConn: true }));
  const noContent = parseHead((await reader.response(1)).stdout);
  assert.equal(noContent.status, 204);
  assert.equal(noContent.body.length, 0);
  socket.write(requestRecords(1, 'GET', '/?chunks=3'));
  const streamed = await reader.response(1);
  assert.match(parseHead(streamed.stdout).body.toString(), /\nline 1\nline 2\nline 3\n$/);
});

test('a body over limit-post gets 413 before it is read', async () => {
  const { socket, reader } = await connectTo(limited.port);
  socket.write(requestRecords(1, 'POST', '/big', { body: Buffer.alloc(4096, 1) }));
  assert.equal(parseHead((await reader.response(1)).stdout).status, 413);
});

test('a body without CONTENT_LENGTH is cut at limit-post as it streams: 413', async () => {
  const { socket, reader } = await connectTo(limited.port);
  socket.write(
    Buffer.concat([
      begin(1),
      params(
        1,
        pairs([
          ['REQUEST_METHOD', 'POST'],
          ['REQUEST_URI', '/chunked'],
        ]),
      ),
      stdin(1, Buffer.alloc(4096, 1), 512),
    ]),
  );
  assert.equal(parseHead((await reader.response(1)).stdout).status, 413);
});

test('params over buffer-size get 431', async () => {
  const { socket, reader } = await connectTo(limited.port);
  socket.write(requestRecords(1, 'GET', '/', { extra: [['HTTP_COOKIE', 'c'.repeat(3000)]] }));
  const response = await reader.response(1);
  assert.equal(parseHead(response.stdout).status, 431);
  assert.deepEqual(response.end, { appStatus: 0, protocolStatus: 0 });
});

test('management records: GET_VALUES answered, an unknown type gets UNKNOWN_TYPE', async () => {
  const { socket, reader } = await connectTo(gateway.port);
  socket.write(
    record(
      T.getValues,
      0,
      pairs([
        ['FCGI_MPXS_CONNS', ''],
        ['FCGI_MAX_REQS', ''],
      ]),
    ),
  );
  socket.write(record(99, 0, 'x'));
  await reader.until((replies) => replies.length >= 2);
  const [values, unknown] = reader.replies;
  assert.equal(values?.type, 10);
  assert.equal(values?.content.toString('latin1'), '\x0f\x01FCGI_MPXS_CONNS0');
  assert.equal(unknown?.type, 11);
  assert.equal(unknown?.content[0], 99);
  socket.destroy();
});

test('an unknown role and a second concurrent request id are refused; the first request completes', async () => {
  const { socket, reader } = await connectTo(gateway.port);
  socket.write(begin(3, { role: 2, keepConn: true }));
  assert.deepEqual((await reader.response(3)).end, { appStatus: 0, protocolStatus: 3 });
  socket.write(
    Buffer.concat([begin(1), begin(2), params(1, pairs([['REQUEST_METHOD', 'GET']])), stdin(1, '')]),
  );
  assert.deepEqual((await reader.response(2)).end, { appStatus: 0, protocolStatus: 1 });
  assert.equal(parseHead((await reader.response(1)).stdout).status, 200);
});

test('ABORT_REQUEST mid-body ends the request with END_REQUEST', async () => {
  const { socket, reader } = await connectTo(gateway.port);
  socket.write(
    Buffer.concat([
      begin(1, { keepConn: true }),
      params(
        1,
        pairs([
          ['REQUEST_METHOD', 'POST'],
          ['REQUEST_URI', '/abort'],
          ['CONTENT_LENGTH', '100'],
        ]),
      ),
      record(T.stdin, 1, 'partial'),
      record(T.abort, 1),
    ]),
  );
  const response = await reader.response(1);
  assert.deepEqual(response.end, { appStatus: 0, protocolStatus: 0 });
  assert.equal(response.stdout.length, 0, 'nothing of the aborted response');
});

test('garbage then close: one log line, no crash, the next connection works', async () => {
  const before = gateway.logs.length;
  const socket = await openSocket(gateway.port);
  const done = readUntilClose(socket);
  socket.end('GET / HTTP/1.1\r\n\r\n');
  await done;
  assert.equal(gateway.logs.length, before + 1);
  assert.match(gateway.logs.at(-1) ?? '', /version 71/);
  const next = await connectTo(gateway.port);
  next.socket.write(requestRecords(1, 'GET', '/'));
  assert.equal(parseHead((await next.reader.response(1)).stdout).status, 200);
});

test('a request truncated mid-PARAMS when the peer closes is logged; the server survives', async () => {
  const before = gateway.logs.length;
  const whole = requestRecords(1, 'GET', '/cut');
  const socket = await openSocket(gateway.port);
  const done = readUntilClose(socket);
  socket.end(whole.subarray(0, 30));
  await done;
  assert.match(gateway.logs.slice(before).join('\n'), /truncated/);
});

test('a slow client gets 408 after headers-timeout', async () => {
  const { socket, reader } = await connectTo(limited.port);
  socket.write(
    Buffer.concat([begin(1, { keepConn: true }), record(T.params, 1, pairs([['REQUEST_METHOD', 'GET']]))]),
  );
  const response = await reader.response(1, 3000);
  assert.equal(parseHead(response.stdout).status, 408);
  await reader.until(() => false, 1000);
  assert.equal(reader.closed, true);
});

test('a Node (req, res) listener answers over FastCGI, with its repeated headers', async () => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const server = await startFastcgiGateway({
    app: await loadApp(path.join(here, 'fixtures/node-listener.js')),
  });
  try {
    const { socket, reader } = await connectTo(server.port);
    socket.write(requestRecords(1, 'PUT', '/n?q', { body: Buffer.from('abc') }));
    const http = parseHead((await reader.response(1)).stdout);
    assert.equal(http.status, 200);
    assert.deepEqual(
      http.headers.filter(([name]) => name === 'set-cookie').map(([, v]) => v),
      ['a=1', 'b=2'],
    );
    assert.deepEqual(JSON.parse(http.body.toString()), {
      method: 'PUT',
      url: '/n?q',
      length: 3,
      host: 'example.test',
    });
  } finally {
    await server.close();
  }
});

test('harakiri: a request still unanswered at its deadline gets 504', async () => {
  const server = await startFastcgiGateway({ app: neverAnswers, limits: { harakiriMs: 200 } });
  try {
    const { socket, reader } = await connectTo(server.port);
    socket.write(requestRecords(1, 'GET', '/stuck'));
    assert.equal(parseHead((await reader.response(1)).stdout).status, 504);
  } finally {
    await server.close();
  }
});

test('an app failing after its head: no END_REQUEST, the connection is reset', async () => {
  const server = await startFastcgiGateway({ app: failsMidBody });
  try {
    const { socket, reader } = await connectTo(server.port);
    socket.write(requestRecords(1, 'GET', '/cut', { keepConn: true }));
    const response = await reader.response(1);
    assert.equal(response.end, null);
    assert.equal(reader.closed, true);
  } finally {
    await server.close();
  }
});
