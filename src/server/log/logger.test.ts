import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from './logger.js';

const lineOf = (json: boolean, fields: Record<string, string | number | object>): string => {
  let written = '';
  createLogger('worker 1', json, (line) => {
    written += line;
  }).warn('app.load-failed', fields);
  return written;
};

test('text lines: one line per record, quotes and control characters escaped, backslashes kept', () => {
  const line = lineOf(false, {
    // describeError has already written the message's line break as \n (two characters).
    error: 'Transform failed with 1 error:\\n/srv/app.ts:1:18: ERROR: Unexpected ";"',
    // Hostile input quoted in a value: a raw line break and a terminal escape.
    header: 'a\r\nb\u001b[31m',
    plain: 'ok',
    stats: { requests: 3 },
  });
  assert.equal(
    line.replace(/^\S+ /, ''),
    'pier[worker 1] WARN app.load-failed error="Transform failed with 1 error:\\n/srv/app.ts:1:18: ERROR: Unexpected \\";\\"" header="a\\r\\nb\\u001b[31m" plain=ok stats={"requests":3}\n',
  );
  assert.equal(line.split('\n').length, 2, 'one line');
});

test('JSON lines: an object field is nested, not a string', () => {
  const record = JSON.parse(lineOf(true, { stats: { requests: 3 } }));
  assert.deepEqual(record.stats, { requests: 3 });
  assert.equal(record.event, 'app.load-failed');
});
