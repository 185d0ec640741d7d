import assert from 'node:assert/strict';
import { test } from 'node:test';
import { headFromCgiVars } from './cgi-vars.js';

test('HTTP_* variables become lowercased headers; CONTENT_* are added once', () => {
  const head = headFromCgiVars({
    REQUEST_METHOD: 'POST',
    REQUEST_URI: '/a%20b?x=1',
    HTTP_X_FORWARDED_FOR: '10.0.0.1',
    HTTP_CONTENT_LENGTH: '3',
    CONTENT_LENGTH: '3',
    CONTENT_TYPE: 'text/plain',
    SERVER_NAME: 'example.test',
    SERVER_PORT: '8080',
    REMOTE_ADDR: '127.0.0.2',
    REMOTE_PORT: '5555',
  });
  assert.deepEqual(head.headers, [
    ['x-forwarded-for', '10.0.0.1'],
    ['content-type', 'text/plain'],
    ['content-length', '3'],
  ]);
  assert.equal(head.target, '/a%20b?x=1');
  assert.equal(head.authority, 'example.test:8080');
  assert.equal(head.contentLength, 3);
  assert.equal(head.remotePort, 5555);
});

test('without REQUEST_URI the target is SCRIPT_NAME + PATH_INFO + QUERY_STRING', () => {
  const vars = new Map([
    ['REQUEST_METHOD', 'GET'],
    ['SCRIPT_NAME', '/app.js'],
    ['PATH_INFO', '/x y'],
    ['QUERY_STRING', 'q=1'],
    ['HTTPS', 'on'],
  ]);
  const head = headFromCgiVars(vars);
  assert.equal(head.target, '/app.js/x%20y?q=1');
  assert.equal(head.scheme, 'https');
});

test('malformed variables are refused with a status', () => {
  assert.throws(() => headFromCgiVars({ REQUEST_METHOD: 'GE T' }), { status: 400, code: 'BAD_METHOD' });
  assert.throws(() => headFromCgiVars({ REQUEST_METHOD: 'GET', REQUEST_URI: 'x' }), { code: 'BAD_TARGET' });
  assert.throws(() => headFromCgiVars({ REQUEST_METHOD: 'GET', CONTENT_LENGTH: '1e3' }), {
    code: 'BAD_CONTENT_LENGTH',
  });
});
