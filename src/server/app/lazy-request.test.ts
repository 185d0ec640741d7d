import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { lazyRequest } from './lazy-request.js';

const source = (method: string, body?: string) => ({
  method,
  url: 'http://example.test/path?q=1',
  headerPairs: () => [['Content-Type', 'text/plain'] as [string, string]],
  body: () =>
    body === undefined ? null : (Readable.toWeb(Readable.from([Buffer.from(body)])) as ReadableStream),
});

test('method, url and headers come from the source; the rest from a real Request built once', async () => {
  const request = lazyRequest(source('POST', 'hello'));
  assert.equal(request.method, 'POST');
  assert.equal(request.url, 'http://example.test/path?q=1');
  assert.equal(request.headers.get('content-type'), 'text/plain');
  assert.ok(request instanceof Request);
  assert.equal(Object.prototype.toString.call(request), '[object Request]');
  assert.equal(await request.text(), 'hello');
  assert.equal(request.bodyUsed, true);
  assert.ok(request.signal instanceof AbortSignal);
  assert.equal('clone' in request, true);
});
