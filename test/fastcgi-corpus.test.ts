// The FastCGI fixture corpus (test/fixtures/fastcgi/{valid,invalid}) replayed through the
// parser whole, byte by byte and in random chunks: every replay must parse the same.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type FastcgiEvent, FastcgiParser } from '../src/server/fastcgi/fastcgi-parser.js';
import type { Expected, InvalidFastcgi, ValidFastcgi } from './fixtures/fastcgi/records.js';
import { loadFixtures, replays } from './helpers/corpus.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/fastcgi');

interface Outcome {
  events: Expected[];
  error?: { code: string; status: number; message: string; requestId?: number };
  afterError: number;
}

function parse(chunks: Buffer[], bufferSize: number, closes: boolean, release: boolean): Outcome {
  const out: Outcome = { events: [], afterError: 0 };
  const parser = new FastcgiParser(bufferSize, (event: FastcgiEvent) => {
    if (out.error) out.afterError++;
    if (event.kind === 'error') {
      const { code, status, message } = event.error;
      out.error = {
        code,
        status,
        message,
        ...(event.requestId === undefined ? {} : { requestId: event.requestId }),
      };
      return;
    }
    if (event.kind === 'stdin') {
      const data = event.data.toString('latin1');
      const last = out.events.at(-1);
      if (last?.kind === 'stdin' && last.requestId === event.requestId) last.data += data;
      else out.events.push({ kind: 'stdin', requestId: event.requestId, data });
      return;
    }
    out.events.push(event);
    // Stands in for the front-end answering the request once its body is in.
    if (release && event.kind === 'stdin-end') parser.release(event.requestId);
  });
  for (const chunk of chunks) parser.push(chunk);
  if (closes) parser.end();
  return out;
}

for (const [name, fixture] of await loadFixtures<ValidFastcgi>(path.join(fixtures, 'valid'))) {
  test(`fastcgi valid/${name}: ${fixture.description}`, () => {
    for (const replay of replays(fixture.bytes)) {
      const out = parse(replay.chunks, fixture.bufferSize ?? 65535, false, fixture.release ?? false);
      assert.equal(out.error, undefined, `${replay.name}: ${out.error?.message}`);
      assert.deepEqual(out.events, fixture.events, replay.name);
    }
  });
}

for (const [name, fixture] of await loadFixtures<InvalidFastcgi>(path.join(fixtures, 'invalid'))) {
  test(`fastcgi invalid/${name}: ${fixture.description} → ${fixture.code}`, () => {
    let first: Outcome | undefined;
    for (const replay of replays(fixture.bytes)) {
      const out = parse(replay.chunks, fixture.bufferSize ?? 65535, fixture.closes ?? false, false);
      assert.ok(out.error, `${replay.name}: an error`);
      assert.equal(out.error.code, fixture.code, `${replay.name}: ${out.error.message}`);
      assert.equal(out.error.status, fixture.status, replay.name);
      assert.equal(out.error.requestId, fixture.requestId, replay.name);
      assert.equal(out.afterError, 0, `${replay.name}: nothing is emitted after the error`);
      first ??= out;
      assert.deepEqual(out, first, `${replay.name}: the same events and message each way`);
    }
  });
}
