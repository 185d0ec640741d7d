import assert from 'node:assert/strict';
import { test } from 'node:test';
import hello, { doMagic, formatTimestamp } from './hello.js';

test('doMagic formats a given time like Python datetime, with microseconds', () => {
  const at = new Date(2024, 0, 5, 7, 8, 9, 42);
  assert.equal(doMagic(at), 'Hello! 2024-01-05 07:08:09.042000');
});

test('doMagic without an argument uses the current local time to the microsecond', () => {
  const before = Date.now();
  const line = doMagic();
  const match = /^Hello! (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6})$/.exec(line);
  assert.ok(match, `unexpected line: ${line}`);
  const [y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, us = 0] = match.slice(1).map(Number);
  const stamped = new Date(y, mo - 1, d, h, mi, s, Math.floor(us / 1000)).getTime();
  assert.ok(Math.abs(stamped - before) < 2000, `timestamp ${line} is not now`);
});

test('formatTimestamp pads every field', () => {
  assert.equal(formatTimestamp(new Date(999, 11, 31, 0, 0, 0, 1)), '0999-12-31 00:00:00.001000');
});

test('the fetch handler answers 200 text/html with the Hello line', async () => {
  const response = await hello.fetch(new Request('http://localhost/'));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.match(await response.text(), /^Hello! \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
});
