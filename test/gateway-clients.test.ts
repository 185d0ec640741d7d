// pier behind third-party gateway clients, each a different implementation of the protocol and
// a Debian package: uWSGI's HTTP router (uwsgi), lighttpd's mod_fastcgi (FastCGI) and mod_scgi
// in uwsgi mode, and HAProxy's fcgi-app (FastCGI). Through each: a GET with %-encoded UTF-8, a
// 1 MiB binary POST that arrives byte-exact, HEAD, 404 and an 8 MiB streamed response.
// uWSGI's router with --http-chunked-input also passes chunked uploads on chunk-encoded and
// without CONTENT_LENGTH: they must reach the app whole, on every uwsgi transport, for fetch
// and Node listener apps alike.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EchoReport } from '../examples/echo/app.js';
import { streamChunk, streamedBytes } from './fixtures/gateway-client-app.js';
import { type Haproxy, startHaproxy } from './helpers/haproxy.js';
import { type Lighttpd, startLighttpd } from './helpers/lighttpd.js';
import { freePort, http } from './helpers/net.js';
import { repoRoot } from './helpers/paths.js';
import { type Served, startServe } from './helpers/serve.js';
import { startUwsgiRouter, type UwsgiRouter } from './helpers/uwsgi-router.js';

const fixtures = path.join(repoRoot, 'dist/test/fixtures');
const clientApp = path.join(fixtures, 'gateway-client-app.js');

const upload = randomBytes(1024 * 1024);
const uploadSha = createHash('sha256').update(upload).digest('hex');
const echoOf = (body: Buffer): EchoReport => JSON.parse(body.toString()) as EchoReport;

function streamedSha(mib: number): string {
  const hash = createHash('sha256');
  for (let i = 0; i < (mib * 1024 * 1024) / streamChunk; i++) hash.update(streamedBytes(i));
  return hash.digest('hex');
}

let pier: Served;
let router: UwsgiRouter;
let lighttpd: Lighttpd;
let haproxy: Haproxy;
const clients: Array<{ name: string; url: () => string }> = [
  { name: "uWSGI's HTTP router → uwsgi", url: () => router.url },
  { name: 'lighttpd mod_fastcgi → FastCGI', url: () => lighttpd.fastcgiUrl },
  { name: 'lighttpd mod_scgi (uwsgi mode) → uwsgi', url: () => lighttpd.uwsgiUrl },
  { name: 'HAProxy fcgi-app → FastCGI', url: () => haproxy.url },
];

before(async () => {
  pier = await startServe([
    '--socket',
    '127.0.0.1:0',
    '--fastcgi-socket',
    `127.0.0.1:${await freePort()}`,
    '--app',
    clientApp,
    '--processes',
    '2',
    '--limit-post',
    '16m',
  ]);
  const [uwsgi, fastcgi] = pier.addresses.map((a) => a.address) as [string, string];
  router = await startUwsgiRouter(uwsgi, ['--http-chunked-input']);
  lighttpd = await startLighttpd(fastcgi, uwsgi);
  haproxy = await startHaproxy(fastcgi);
});

after(async () => {
  await router?.stop();
  await lighttpd?.stop();
  await haproxy?.stop();
  await pier?.stop();
});

for (const client of clients) {
  describe(client.name, () => {
    test('GET with %-encoded UTF-8 in path and query', async () => {
      const res = await http(`${client.url()}/caf%C3%A9/%E6%97%A5%20x?q=%C3%BC&q=a%2Bb`);
      assert.equal(res.status, 200, res.body.toString());
      const echo = echoOf(res.body);
      assert.equal(echo.method, 'GET');
      assert.equal(echo.path, '/caf%C3%A9/%E6%97%A5%20x');
      assert.equal(echo.rawQuery, 'q=%C3%BC&q=a%2Bb');
      assert.deepEqual(echo.query.q, ['ü', 'a+b']);
    });

    test('a 1 MiB binary POST arrives byte-exact', async () => {
      const res = await http(`${client.url()}/upload`, {
        method: 'POST',
        body: upload,
        headers: { 'content-type': 'application/octet-stream' },
      });
      assert.equal(res.status, 200, res.body.toString().slice(0, 300));
      const echo = echoOf(res.body);
      assert.equal(echo.bodyLength, upload.length);
      assert.equal(echo.bodySha256, uploadSha);
    });

    test('HEAD: the headers, no body', async () => {
      const res = await http(`${client.url()}/`, { method: 'HEAD' });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(res.body.length, 0);
    });

    test('404 passes through with its body', async () => {
      const res = await http(`${client.url()}/missing/thing`);
      assert.equal(res.status, 404);
      assert.equal(res.body.toString(), 'not here\n');
    });

    test('an 8 MiB streamed response arrives whole', async () => {
      const res = await http(`${client.url()}/stream?mib=8`);
      assert.equal(res.status, 200);
      assert.equal(res.body.length, 8 * 1024 * 1024);
      assert.equal(createHash('sha256').update(res.body).digest('hex'), streamedSha(8));
    });
  });
}

// HAProxy 2.6 answers a chunked upload to an fcgi-app with its own 400 page: it never reaches
// the backend.
test('lighttpd passes a chunked upload on whole (it de-chunks it)', async () => {
  for (const url of [lighttpd.fastcgiUrl, lighttpd.uwsgiUrl]) {
    const res = await http(`${url}/chunked`, { method: 'PUT', body: upload, chunked: true });
    assert.equal(res.status, 200, `${url}: ${res.body.toString().slice(0, 300)}`);
    const echo = echoOf(res.body);
    assert.equal(echo.bodyLength, upload.length, url);
    assert.equal(echo.bodySha256, uploadSha, url);
  }
});

describe("uWSGI's HTTP router with --http-chunked-input: a chunked upload reaches the app whole", () => {
  for (const gatewayIo of ['native', 'libuv', 'net']) {
    for (const [kind, app] of [
      ['fetch app', clientApp],
      ['Node listener', path.join(fixtures, 'node-listener.js')],
    ] as const) {
      test(`gateway-io ${gatewayIo}, ${kind}`, async () => {
        const served = await startServe([
          '--socket',
          '127.0.0.1:0',
          '--app',
          app,
          '--gateway-io',
          gatewayIo,
          '--limit-post',
          '16m',
        ]);
        const front = await startUwsgiRouter(served.addresses[0]?.address ?? '', ['--http-chunked-input']);
        try {
          const res = await http(`${front.url}/chunked`, { method: 'POST', body: upload, chunked: true });
          assert.equal(res.status, 200, res.body.toString().slice(0, 300));
          if (kind === 'fetch app') {
            const echo = echoOf(res.body);
            assert.equal(echo.bodyLength, upload.length, 'the body the app read');
            assert.equal(echo.bodySha256, uploadSha);
            assert.equal(echo.headers['transfer-encoding'], 'chunked');
            assert.equal(echo.headers['content-length'], undefined, 'one framing: chunked');
          } else {
            assert.equal((JSON.parse(res.body.toString()) as { length: number }).length, upload.length);
          }
        } finally {
          await front.stop();
          await served.stop();
        }
      });
    }
  }
});
