// The uwsgi fixture corpus (test/fixtures/uwsgi/{valid,invalid}) replayed through the parser
// whole, byte by byte and in random chunks: every replay must parse the same.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type UwsgiEvent, UwsgiParser } from '../src/server/uwsgi/uwsgi-parser.js';
import type { InvalidUwsgi, ValidUwsgi } from './fixtures/uwsgi/packet.js';
import { loadFixtures, replays } from './helpers/corpus.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/uwsgi');

interface Outcome {
  vars?: Array<[string, string]>;
  contentLength?: number;
  body: string;
  ended: boolean;
  error?: { code: string; status: number; message: string };
  afterError: number;
}

function parse(chunks: Buffer[], bufferSize: number, closes: boolean): Outcome {
  const out: Outcome = { body: '', ended: false, afterError: 0 };
  const parser = new UwsgiParser(bufferSize, (event: UwsgiEvent) => {
    if (out.error) out.afterError++;
    if (event.kind === 'request') {
      out.vars = event.vars.pairs();
      out.contentLength = event.contentLength;
    } else if (event.kind === 'body') out.body += event.data.toString('latin1');
    else if (event.kind === 'end') out.ended = true;
    else out.error = { code: event.error.code, status: event.error.status, message: event.error.message };
  });
  for (const chunk of chunks) parser.push(chunk);
  if (closes) parser.end();
  return out;
}

for (const [name, fixture] of await loadFixtures<ValidUwsgi>(path.join(fixtures, 'valid'))) {
  test(`uwsgi valid/${name}: ${fixture.description}`, () => {
    for (const replay of replays(fixture.bytes)) {
      const out = parse(replay.chunks, fixture.bufferSize ?? 65535, false);
      assert.equal(out.error, undefined, `${replay.name}: ${out.error?.message}`);
      assert.deepEqual(out.vars, fixture.vars, replay.name);
      assert.equal(out.body, fixture.body ?? '', replay.name);
      assert.equal(out.contentLength, Buffer.byteLength(fixture.body ?? '', 'latin1'), replay.name);
      assert.ok(out.ended, `${replay.name}: the request ended`);
    }
  });
}

for (const [name, fixture] of await loadFixtures<InvalidUwsgi>(path.join(fixtures, 'invalid'))) {
  test(`uwsgi invalid/${name}: ${fixture.description} → ${fixture.code}`, () => {
    let first: string | undefined;
    for (const replay of replays(fixture.bytes)) {
      const out = parse(replay.chunks, fixture.bufferSize ?? 65535, fixture.closes ?? false);
      assert.ok(out.error, `${replay.name}: an error`);
      assert.equal(out.error.code, fixture.code, `${replay.name}: ${out.error.message}`);
      assert.equal(out.error.status, fixture.status, replay.name);
      assert.equal(out.afterError, 0, `${replay.name}: nothing is emitted after the error`);
      assert.ok(!out.ended, replay.name);
      first ??= out.error.message;
      assert.equal(out.error.message, first, `${replay.name}: the same message each way`);
    }
  });
}
