import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isValidHost, requestUrl } from './request-url.js';

test('a Host is host[:port]: names, IPv4, bracketed IPv6, with or without a port', () => {
  for (const host of [
    'example.test',
    'EXAMPLE.test:8080',
    'a-b_c~d',
    '192.0.2.1:80',
    'a:65535',
    'a:000080',
    '[::1]',
    '[2001:db8::1]:443',
    'x:',
  ]) {
    assert.ok(isValidHost(host), host);
    // Whatever passes builds a URL whose path is the target's.
    assert.equal(new URL(requestUrl('http', host, '/p?q')).pathname, '/p', host);
  }
});

test('a Host that would end the host early, or is no host at all, is refused', () => {
  for (const host of [
    'x\\admin',
    'x#',
    'x?y',
    'h/admin',
    'a b',
    'a@b',
    'x%2Fadmin',
    'a\tb',
    'x<y>',
    '[::1',
    ':80',
    'a:b:c',
    // A port no URL takes: it was a 500 logged as an app error.
    'a:99999',
    'a:65536',
  ]) {
    assert.equal(isValidHost(host), false, host);
  }
});

test('the URL keeps the target: origin-form appended, * is the root, absolute-form as sent', () => {
  assert.equal(requestUrl('https', 'h:8443', '/a/b?c=1'), 'https://h:8443/a/b?c=1');
  assert.equal(requestUrl('http', 'h', '*'), 'http://h/');
  assert.equal(requestUrl('http', 'h', 'http://other.test/x?y'), 'http://other.test/x?y');
});
