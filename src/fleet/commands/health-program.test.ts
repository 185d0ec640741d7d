// The health gate's host-side program, run by the real /bin/sh with the real curl against a
// local server whose answers the test scripts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { type GateSpec, healthGate, parseGate } from './health.js';
import { render } from './shell.js';

let server: Server;
let port: number;
/** What the server answers, request by request (the last one repeats). */
let answers: Array<[number, string]> = [];
let requests = 0;

before(async () => {
  server = createServer((_req, res) => {
    const [status, body] = answers[Math.min(requests, answers.length - 1)] ?? [500, ''];
    requests++;
    res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});

after(() => server.close());

function gate(spec: Partial<GateSpec>, replies: Array<[number, string]>): Promise<string> {
  answers = replies;
  requests = 0;
  const full: GateSpec = {
    url: `http://127.0.0.1:${port}/health`,
    status: 200,
    body: 'ok',
    timeoutMs: 2_000,
    intervalMs: 100,
    bakeMs: 0,
    ...spec,
  };
  return new Promise((resolve, reject) =>
    execFile('/bin/sh', ['-c', render(healthGate(full))], { encoding: 'utf8' }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    ),
  );
}

test('a right answer at once passes with one probe', async () => {
  assert.deepEqual(parseGate(await gate({}, [[200, 'all ok\n']])), { ok: true });
  assert.equal(requests, 1);
});

test('wrong answers are probed again until a right one, within the timeout', async () => {
  assert.deepEqual(
    parseGate(
      await gate({}, [
        [503, 'starting'],
        [200, 'nope'],
        [200, 'ok'],
      ]),
    ),
    { ok: true },
  );
  assert.equal(requests, 3);
});

test('a status that never comes fails the gate with the last status and whether the body held', async () => {
  assert.deepEqual(parseGate(await gate({ timeoutMs: 600 }, [[500, 'ok']])), {
    ok: false,
    phase: 'gate',
    status: 500,
    bodyFound: true,
  });
  assert.deepEqual(parseGate(await gate({ timeoutMs: 600 }, [[200, 'other text']])), {
    ok: false,
    phase: 'gate',
    status: 200,
    bodyFound: false,
  });
  assert.ok(requests >= 3, `probed ${requests} times in 600 ms at 100 ms intervals`);
});

test('nothing listening is status 000', async () => {
  const verdict = parseGate(await gate({ url: 'http://127.0.0.1:1/', timeoutMs: 300 }, []));
  assert.deepEqual(verdict, { ok: false, phase: 'gate', status: 0, bodyFound: false });
});

test('the bake keeps probing, and a failure during it fails the gate there', async () => {
  assert.deepEqual(parseGate(await gate({ bakeMs: 500 }, [[200, 'ok']])), { ok: true });
  assert.ok(requests >= 3, `probed ${requests} times through a 500 ms bake`);
  assert.deepEqual(
    parseGate(
      await gate({ bakeMs: 2_000 }, [
        [200, 'ok'],
        [200, 'ok'],
        [502, 'gone'],
      ]),
    ),
    {
      ok: false,
      phase: 'bake',
      status: 502,
      bodyFound: false,
    },
  );
});

test('any body passes when none is asked for', async () => {
  assert.deepEqual(parseGate(await gate({ body: undefined }, [[200, '']])), { ok: true });
});
