// The CGI entry writes its response to fd 1 directly; a web server (or a process sharing the
// pipe) may have made that pipe non-blocking, and a client may read slower than the app writes.
// Every byte must still arrive, in order, and the process must end once they have.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from './helpers/paths.js';

const entry = path.join(repoRoot, 'dist/src/server/cgi/main.cjs');
/** Far more than a pipe (64 KiB) or a socket pair (~200 KiB) holds. */
const size = 4 * 1024 * 1024;
const expected = createHash('sha256').update(Buffer.alloc(size, 'x')).digest('hex');

// Sets O_NONBLOCK on its stdout, then runs the command: the entry inherits a non-blocking pipe.
const nonBlocking = [
  'perl',
  '-MFcntl',
  '-e',
  'fcntl(STDOUT, F_SETFL, fcntl(STDOUT, F_GETFL, 0) | O_NONBLOCK) or die "fcntl: $!"; exec @ARGV or die "exec: $!"',
];

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'pier-cgi-stdout-'));
  // One body in memory (written whole), and one streamed in 64 KiB chunks.
  writeFileSync(
    path.join(dir, 'whole.mjs'),
    `export default { fetch: () => new Response(new Uint8Array(${size}).fill(120)) };\n`,
  );
  writeFileSync(
    path.join(dir, 'streamed.mjs'),
    `export default {
  fetch: () => {
    let left = ${size / 65536};
    return new Response(new ReadableStream({
      pull(controller) {
        if (left-- === 0) controller.close();
        else controller.enqueue(new Uint8Array(65536).fill(120));
      },
    }));
  },
};\n`,
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the entry on `app` with a non-blocking stdout that the test starts reading late. */
function runSlowlyRead(app: string): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    // `| cat`: a real pipe, as Apache gives a CGI script, drained by cat into the test's.
    const child = spawn(
      'sh',
      ['-c', '"$@" | cat', 'sh', ...nonBlocking, process.execPath, entry, path.join(dir, app)],
      {
        env: {
          PATH: process.env.PATH ?? '',
          GATEWAY_INTERFACE: 'CGI/1.1',
          REQUEST_METHOD: 'GET',
          REQUEST_URI: '/',
          SERVER_PROTOCOL: 'HTTP/1.1',
        },
      },
    );
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    // Paused: nothing is read until the timer below.
    child.stdout.pause();
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() });
    });
    // The pipes fill up and the entry's writes meet EAGAIN before anyone reads.
    void sleep(500).then(() => child.stdout.on('data', (chunk: Buffer) => out.push(chunk)).resume());
  });
}

for (const app of ['whole.mjs', 'streamed.mjs']) {
  test(`a ${size >> 20} MiB response (${app}) arrives whole through a non-blocking pipe read late`, async () => {
    const run = await runSlowlyRead(app);
    assert.notEqual(run.code, null, 'the process was killed: it hung');
    assert.equal(run.stderr, '');
    const at = run.stdout.indexOf('\r\n\r\n');
    assert.match(run.stdout.subarray(0, at).toString('latin1'), /^Status: 200 OK(?:\r\n|$)/);
    const body = run.stdout.subarray(at + 4);
    assert.equal(body.length, size);
    assert.equal(createHash('sha256').update(body).digest('hex'), expected);
  });
}
