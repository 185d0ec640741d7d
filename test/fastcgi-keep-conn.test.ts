// A kept FastCGI connection (nginx `fastcgi_keep_conn on`) under a fetch handler that answers at
// once: a real `pier serve` with the seed's Hello, a raw FastCGI client sending one request after
// the other on one connection, each after the previous one's END_REQUEST, as nginx does.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { begin, pairs, params, stdin } from './fixtures/fastcgi/records.js';
import { ReplyReader } from './helpers/fastcgi-client.js';
import { freePort } from './helpers/net.js';
import { repoRoot } from './helpers/paths.js';
import { openSocket, parseHead } from './helpers/raw-client.js';
import { startServe } from './helpers/serve.js';

const helloApp = path.join(repoRoot, 'dist/src/hello/hello.js');

/** BEGIN_REQUEST with KEEP_CONN, the PARAMS and the empty STDIN of a GET, in one write (as nginx sends them). */
function keptGet(id: number, uri: string): Buffer {
  const vars: Array<[string, string]> = [
    ['REQUEST_METHOD', 'GET'],
    ['REQUEST_URI', uri],
    ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['REMOTE_ADDR', '127.0.0.1'],
    ['HTTP_HOST', 'example.test'],
  ];
  return Buffer.concat([begin(id, { keepConn: true }), params(id, pairs(vars)), stdin(id, '')]);
}

test('keep-conn: a fetch handler that answers at once serves request after request on one connection', async () => {
  const served = await startServe([
    '--fastcgi-socket',
    `127.0.0.1:${await freePort()}`,
    '--app',
    helloApp,
    '--processes',
    '1',
  ]);
  try {
    const port = Number(served.addresses[0]?.address.split(':')[1]);
    const socket = await openSocket(port);
    const reader = new ReplyReader(socket);
    for (let n = 1; n <= 3; n++) {
      socket.write(keptGet(1, `/hello?n=${n}`));
      const response = await reader.response(1);
      assert.deepEqual(response.end, { appStatus: 0, protocolStatus: 0 }, `request ${n}: END_REQUEST`);
      assert.ok(response.stdoutClosed, `request ${n}: STDOUT ended by an empty record`);
      const reply = parseHead(response.stdout);
      assert.equal(reply.statusLine, 'Status: 200 OK', `request ${n}`);
      assert.match(reply.body.toString(), /^Hello! \d{4}-\d\d-\d\d /, `request ${n}`);
      // nginx sends the next request as soon as it has END_REQUEST; give a close time to show.
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(reader.closed, false, `the connection stays open after request ${n}`);
    }
    socket.destroy();
  } finally {
    await served.stop();
  }
});
