// `reuse-port`: a TCP socket per worker slot, bound with SO_REUSEPORT by the master. Real
// master and workers; what a user notices: connections land on every worker, and none is lost
// while a worker is replaced (its slot's socket, held by the master, keeps them queued).
import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { http } from './helpers/net.js';
import { echoApp, repoRoot } from './helpers/paths.js';
import { reloadsUnderLoad, serveFails, startServe } from './helpers/serve.js';

const slowApp = path.join(repoRoot, 'dist/test/fixtures/slow-app.js');
const pidsOf = (log: string): number[] =>
  [...log.matchAll(/worker\.ready slot=\d+ pid=(\d+)/g)].map((m) => Number(m[1]));
const reusePort = [
  '--http-socket',
  '127.0.0.1:0',
  '--app',
  slowApp,
  '--processes',
  '2',
  '--reuse-port',
  'true',
];

/** The worker pid that answered each of `count` requests, each on a new connection, all at once. */
async function answeredBy(url: string, count: number): Promise<number[]> {
  const answers = await Promise.all(Array.from({ length: count }, () => http(`${url}/pid`)));
  for (const answer of answers) assert.equal(answer.status, 200);
  return answers.map((answer) => Number(answer.body.toString()));
}

describe('reuse-port', () => {
  test('new connections are spread over both workers', async () => {
    const served = await startServe(reusePort);
    try {
      const workers = pidsOf(served.log());
      const pids = await answeredBy(served.url, 64);
      const counts = workers.map((pid) => pids.filter((p) => p === pid).length);
      // The kernel hashes each connection's addresses: 64 land about half and half (fewer than
      // 12 on one side has a chance under 1 in 10^6).
      assert.equal(counts.length, 2);
      for (const count of counts) assert.ok(count >= 12, `split ${counts.join('/')}`);
    } finally {
      await served.stop();
    }
  });

  test("a SIGKILLed worker's connections wait for its replacement: none is refused", async () => {
    const served = await startServe(reusePort);
    try {
      const [victim] = pidsOf(served.log());
      process.kill(victim ?? 0, 'SIGKILL');
      // At once, while the slot has no worker: about half of these hash to its socket.
      const pids = await answeredBy(served.url, 40);
      assert.ok(!pids.includes(victim ?? 0));
      await served.waitForLog(new RegExp(`worker\\.exit slot=\\d pid=${victim} signal=SIGKILL`));
      const replacement = pidsOf(served.log()).at(-1);
      assert.ok(pids.includes(replacement ?? 0), 'the new worker took its slot queue');
    } finally {
      await served.stop();
    }
  });

  test('10 SIGHUPs under load: zero failed requests', async () => {
    const served = await startServe([...reusePort, '--disable-logging', 'true']);
    try {
      const result = await reloadsUnderLoad(served, 10);
      assert.ok(result.requests > 1000, `only ${result.requests} requests under load`);
      assert.equal(result.non2xx, 0, result.raw);
      assert.equal(result.socketErrors, 0, result.raw);
    } finally {
      await served.stop();
    }
  });

  test('a port another server holds, or a host name: refused at start with the reason', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    try {
      const held = await serveFails([
        '--http-socket',
        `127.0.0.1:${port}`,
        '--app',
        echoApp,
        '--reuse-port',
        'true',
      ]);
      assert.equal(held.code, 1);
      assert.match(
        held.stderr,
        new RegExp(`cannot bind 127\\.0\\.0\\.1:${port} \\(http\\): address already in use`),
      );
      assert.doesNotMatch(held.stderr, /worker\.spawn/);
    } finally {
      holder.close();
    }
    const named = await serveFails([
      '--http-socket',
      'localhost:0',
      '--app',
      echoApp,
      '--reuse-port',
      'true',
    ]);
    assert.equal(named.code, 1);
    assert.match(
      named.stderr,
      /cannot bind localhost:0 \(http\): reuse-port takes an IP address, not a name/,
    );
  });
});
