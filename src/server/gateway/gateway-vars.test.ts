import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gatewayHead } from './gateway-head.js';
import { cgiVarMap } from './gateway-vars.js';

const latin1 = (text: string): string => Buffer.from(text).toString('latin1');

test('a header-named variable (uwsgi_param X-Real-IP) becomes that header and beats the client', () => {
  const head = gatewayHead(
    [
      ['REQUEST_METHOD', 'GET'],
      ['REQUEST_URI', '/'],
      ['HTTP_X_REAL_IP', '6.6.6.6'],
      ['X-Real-IP', '10.1.2.3'],
      ['Host', 'example.test'],
      ['HTTP_HOST', 'spoofed'],
    ],
    'uwsgi',
  );
  assert.deepEqual(head.headers, [
    ['x-real-ip', '10.1.2.3'],
    ['host', 'example.test'],
  ]);
});

test('repeated headers are joined; cookies with "; "', () => {
  const vars = cgiVarMap([
    ['HTTP_ACCEPT', 'a'],
    ['HTTP_ACCEPT', 'b'],
    ['HTTP_COOKIE', 'x=1'],
    ['HTTP_COOKIE', 'y=2'],
  ]);
  assert.equal(vars.get('HTTP_ACCEPT'), 'a, b');
  assert.equal(vars.get('HTTP_COOKIE'), 'x=1; y=2');
});

test('non-ASCII bytes: percent-encoded in REQUEST_URI, UTF-8 in PATH_INFO, raw in headers', () => {
  const vars = cgiVarMap([
    ['REQUEST_URI', latin1('/café?q=ü')],
    ['PATH_INFO', latin1('/café')],
    ['HTTP_X_NAME', latin1('Zoë')],
  ]);
  assert.equal(vars.get('REQUEST_URI'), '/caf%C3%A9?q=%C3%BC');
  assert.equal(vars.get('PATH_INFO'), '/café');
  assert.equal(vars.get('HTTP_X_NAME'), latin1('Zoë'));
});

test('no REQUEST_METHOD: a 400 that says which params file to include', () => {
  assert.throws(() => gatewayHead([['REQUEST_URI', '/']], 'fastcgi'), {
    code: 'NO_REQUEST_METHOD',
    status: 400,
    message: /fastcgi_params/,
  });
});

test('a second HTTP_HOST (a config repeating uwsgi_params) does not turn the host into "h, h"', () => {
  const vars = cgiVarMap([
    ['HTTP_HOST', 'example.test'],
    ['HTTP_HOST', 'example.test'],
  ]);
  assert.equal(vars.get('HTTP_HOST'), 'example.test');
});
