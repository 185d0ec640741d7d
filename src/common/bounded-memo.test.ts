import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boundedMemo } from './bounded-memo.js';

test('boundedMemo computes a key once while under its limit, and every time past it', () => {
  const calls: string[] = [];
  const upper = boundedMemo((key) => {
    calls.push(key);
    return key.toUpperCase();
  }, 2);
  assert.equal(upper('a'), 'A');
  assert.equal(upper('a'), 'A');
  assert.equal(upper('b'), 'B');
  assert.equal(upper('c'), 'C');
  assert.equal(upper('c'), 'C');
  assert.deepEqual(calls, ['a', 'b', 'c', 'c']);
});
