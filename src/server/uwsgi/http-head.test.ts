import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpHead } from './http-head.js';

test('a raw HTTP/1.1 head: status line, headers in order (repeats kept), blank line', () => {
  const bytes = httpHead({
    status: 201,
    statusText: '',
    headers: [
      ['content-type', 'text/plain'],
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
    ],
  });
  assert.equal(
    bytes.toString('latin1'),
    'HTTP/1.1 201 Created\r\ncontent-type: text/plain\r\nset-cookie: a=1\r\nset-cookie: b=2\r\n\r\n',
  );
});

test('the app status text wins; unknown codes say Unknown; values go out byte for byte', () => {
  assert.equal(
    httpHead({ status: 299, statusText: '', headers: [['x', 'caf\u00e9']] }).toString('hex'),
    Buffer.from('HTTP/1.1 299 Unknown\r\nx: caf\xe9\r\n\r\n', 'latin1').toString('hex'),
  );
  assert.equal(
    httpHead({ status: 200, statusText: 'Fine', headers: [] }).toString('latin1'),
    'HTTP/1.1 200 Fine\r\n\r\n',
  );
});
