import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expandHostRange, maxRangeHosts } from './host-range.js';

test('a numeric range keeps the zero padding of its start', () => {
  const hosts = expandHostRange('web[001:250].ams.example.net');
  assert.equal(hosts.length, 250);
  assert.equal(hosts[0], 'web001.ams.example.net');
  assert.equal(hosts[249], 'web250.ams.example.net');
});

test('without padding, steps and letters', () => {
  assert.deepEqual(expandHostRange('h[8:11]'), ['h8', 'h9', 'h10', 'h11']);
  assert.deepEqual(expandHostRange('h[1:7:3]'), ['h1', 'h4', 'h7']);
  assert.deepEqual(expandHostRange('rack-[a:c]'), ['rack-a', 'rack-b', 'rack-c']);
});

test('several groups multiply, in order', () => {
  assert.deepEqual(expandHostRange('r[1:2]-n[01:02]'), ['r1-n01', 'r1-n02', 'r2-n01', 'r2-n02']);
});

test('a plain name is itself', () => {
  assert.deepEqual(expandHostRange('db.example.net'), ['db.example.net']);
});

test('bad ranges say what is wrong', () => {
  assert.throws(() => expandHostRange('web[9:1]'), /range start 9 is after its end 1/);
  assert.throws(() => expandHostRange('web[1-9]'), /expected \[start:end\]/);
  assert.throws(() => expandHostRange('web[1:z]'), /both be numbers or both be letters/);
  assert.throws(() => expandHostRange('web1]'), /"\]" without "\["/);
  assert.throws(() => expandHostRange('web[1:0:0]'), /expected \[start:end\]/);
  assert.throws(() => expandHostRange(`w[1:${maxRangeHosts + 1}]`), /more than/);
});
