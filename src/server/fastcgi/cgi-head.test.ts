import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cgiHead } from './cgi-head.js';

const head = (status: number, headers: Array<[string, string]>) =>
  cgiHead({ status, statusText: '', headers }).toString('latin1');

test('an app header named Status never reaches the server, which would take the status from it', () => {
  assert.equal(
    head(200, [
      ['content-type', 'text/plain'],
      ['Status', '404 Not Found'],
    ]),
    'Status: 200 OK\r\ncontent-type: text/plain\r\n\r\n',
  );
});

test('a response without Content-Type gets application/octet-stream, where a body may follow', () => {
  assert.equal(
    head(200, [['x-a', '1']]),
    'Status: 200 OK\r\nx-a: 1\r\ncontent-type: application/octet-stream\r\n\r\n',
  );
  assert.equal(
    head(302, [['location', '/next']]),
    'Status: 302 Found\r\nlocation: /next\r\ncontent-type: application/octet-stream\r\n\r\n',
  );
  assert.equal(
    head(200, [['Content-Type', 'text/html']]),
    'Status: 200 OK\r\nContent-Type: text/html\r\n\r\n',
  );
  assert.equal(head(204, []), 'Status: 204 No Content\r\n\r\n');
  assert.equal(head(304, []), 'Status: 304 Not Modified\r\n\r\n');
});
