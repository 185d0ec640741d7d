import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServerError } from '../errors.js';
import { lengthChecked } from './length-check.js';
import type { ResponseSink } from './response-sink.js';

/** A sink that records what reaches it, and the checker in front of it. */
function recorded(method: string, headers: Array<[string, string]>, status = 200) {
  const got: string[] = [];
  const failures: ServerError[] = [];
  const sink: ResponseSink = {
    head: () => got.push('head'),
    write: (chunk) => {
      got.push(Buffer.from(chunk).toString());
      return undefined;
    },
    end: () => got.push('end'),
    abort: () => got.push('abort'),
  };
  const checked = lengthChecked(sink, method, (err) => failures.push(err));
  checked.head({ status, statusText: 'OK', headers });
  return { checked, got, failures };
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

test('a body of exactly the declared length passes; the chunk that reaches it waits for the end', () => {
  const { checked, got, failures } = recorded('GET', [['content-length', '10']]);
  checked.write(bytes('01234'));
  checked.write(bytes('56789'));
  assert.deepEqual(got, ['head', '01234'], 'the last chunk is held until the body ends');
  checked.end();
  assert.deepEqual(got, ['head', '01234', '56789', 'end']);
  assert.deepEqual(failures, []);
});

test('running past the length fails once and writes nothing more, even after reaching it exactly', () => {
  for (const chunks of [['0123456789', 'a'], ['012345678901']]) {
    const { checked, got, failures } = recorded('GET', [['Content-Length', '10']]);
    for (const chunk of chunks) checked.write(bytes(chunk));
    checked.write(bytes('more'));
    checked.end();
    assert.deepEqual(got, ['head'], chunks.join('+'));
    assert.equal(failures.length, 1);
    assert.equal(failures[0]?.code, 'CONTENT_LENGTH');
    assert.match(failures[0]?.message ?? '', /runs past its Content-Length of 10 bytes/);
  }
});

test('ending short fails instead of ending', () => {
  const { checked, got, failures } = recorded('GET', [['content-length', '10']]);
  checked.write(bytes('01234'));
  checked.end();
  assert.deepEqual(got, ['head', '01234']);
  assert.match(failures[0]?.message ?? '', /ended after 5 of the 10 bytes/);
});

test('no check without a usable Content-Length, on HEAD, or where no body is allowed', () => {
  for (const [method, headers, status] of [
    ['GET', [], 200],
    ['GET', [['content-length', '10, 10']], 200],
    ['HEAD', [['content-length', '10']], 200],
    ['GET', [['content-length', '10']], 304],
  ] as Array<[string, Array<[string, string]>, number]>) {
    const { checked, got, failures } = recorded(method, headers, status);
    checked.write(bytes('abc'));
    checked.end();
    assert.deepEqual(got, ['head', 'abc', 'end'], `${method} ${status} ${JSON.stringify(headers)}`);
    assert.deepEqual(failures, []);
  }
});
