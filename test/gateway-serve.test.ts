// The uwsgi and FastCGI front-ends inside a real `pier serve`: uwsgi-allow-from, a graceful
// stop that closes idle kept FastCGI connections at once instead of waiting for reload-mercy,
// and a worker that runs out of file descriptors.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { begin, pairs, params, stdin } from './fixtures/fastcgi/records.js';
import { uwsgiPacket } from './fixtures/uwsgi/packet.js';
import { ReplyReader } from './helpers/fastcgi-client.js';
import { freePort } from './helpers/net.js';
import { echoApp, repoRoot } from './helpers/paths.js';
import { exchange, openSocket, parseHead } from './helpers/raw-client.js';
import { startServe } from './helpers/serve.js';

const get = (): Array<[string, string]> => [
  ['REQUEST_METHOD', 'GET'],
  ['REQUEST_URI', '/'],
];

test('a uwsgi peer outside uwsgi-allow-from is refused and logged', async () => {
  const served = await startServe([
    '--socket',
    '127.0.0.1:0',
    '--app',
    echoApp,
    '--uwsgi-allow-from',
    '10.0.0.0/8',
  ]);
  try {
    const port = Number(served.addresses[0]?.address.split(':')[1]);
    const reply = await exchange(port, uwsgiPacket(get()));
    assert.equal(reply.bytes.length, 0, 'no response at all');
    await served.waitForLog(/refused a connection from 127\.0\.0\.1: not in uwsgi-allow-from/);
  } finally {
    await served.stop();
  }
});

test('SIGTERM: an idle kept FastCGI connection is closed at once and the worker exits promptly', async () => {
  const served = await startServe([
    '--socket',
    '127.0.0.1:0',
    '--fastcgi-socket',
    `127.0.0.1:${await freePort()}`,
    '--app',
    echoApp,
    '--reload-mercy',
    '30',
  ]);
  const uwsgiPort = Number(served.addresses[0]?.address.split(':')[1]);
  const fastcgiPort = Number(served.addresses[1]?.address.split(':')[1]);
  try {
    assert.equal(parseHead((await exchange(uwsgiPort, uwsgiPacket(get()))).bytes).status, 200);
    const socket = await openSocket(fastcgiPort);
    const reader = new ReplyReader(socket);
    socket.write(Buffer.concat([begin(1, { keepConn: true }), params(1, pairs(get())), stdin(1, '')]));
    assert.deepEqual((await reader.response(1)).end, { appStatus: 0, protocolStatus: 0 });
    const started = Date.now();
    const code = await served.stop();
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 5000, `stopped in ${Date.now() - started} ms, not after reload-mercy`);
    assert.equal(reader.closed, true);
  } finally {
    await served.stop();
  }
});

test('out of file descriptors: the worker logs EMFILE once a second, keeps running, and serves again once connections close', async () => {
  const served = await startServe(['--socket', '127.0.0.1:0', '--app', echoApp, '--processes', '1']);
  const held: Socket[] = [];
  try {
    const port = Number(served.addresses[0]?.address.split(':')[1]);
    const [, pid] = (await served.waitForLog(/worker\.ready slot=\d+ pid=(\d+)/)) as RegExpMatchArray;
    // Leave the worker a few descriptors above what it holds now (a real limit, set from outside).
    const open = readdirSync(`/proc/${pid}/fd`).length;
    const limit = open + 4;
    execFileSync('prlimit', [`--pid=${pid}`, `--nofile=${limit}:${limit}`]);
    // Connections that send half a packet head: accepted, then held open until the head timeout.
    for (let i = 0; i < 12; i++) {
      const socket = await openSocket(port);
      socket.on('error', () => {});
      socket.write(Buffer.from([0, 10]));
      held.push(socket);
    }
    await served.waitForLog(/uwsgi: accept failed: EMFILE[^\n]*LimitNOFILE=/);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const emfileLines = served.log().match(/accept failed: EMFILE/g) ?? [];
    assert.ok(emfileLines.length <= 3, `rate-limited: ${emfileLines.length} lines in about 2 s`);
    for (const socket of held.splice(0)) socket.destroy();
    const reply = await exchange(port, uwsgiPacket(get()));
    assert.equal(parseHead(reply.bytes).statusLine, 'HTTP/1.1 200 OK');
    assert.equal(served.child.exitCode, null, 'the master is still running');
    assert.doesNotMatch(served.log(), /worker\.exit/, 'the worker was never replaced');
  } finally {
    for (const socket of held) socket.destroy();
    await served.stop();
  }
});

test('10,000 malformed uwsgi packets: 400s, then the fds of master and workers come back', async () => {
  const served = await startServe(['--socket', '127.0.0.1:0', '--app', echoApp, '--processes', '2']);
  try {
    const port = Number(served.addresses[0]?.address.split(':')[1]);
    const pids = [
      served.pid,
      ...[...served.log().matchAll(/worker\.ready slot=\d+ pid=(\d+)/g)].map((m) => Number(m[1])),
    ];
    const fds = (): number => pids.reduce((n, pid) => n + readdirSync(`/proc/${pid}/fd`).length, 0);
    const fdsBefore = fds();
    // A vars block whose first key is empty: the packet is malformed, the peer can still read.
    const malformed = Buffer.from([0, 4, 0, 0, 0, 0, 1, 0]);
    let answered400 = 0;
    const one = async (): Promise<void> => {
      const reply = await exchange(port, malformed);
      if (reply.bytes.toString('latin1').startsWith('HTTP/1.1 400')) answered400++;
    };
    for (let batch = 0; batch < 200; batch++) await Promise.all(Array.from({ length: 50 }, one));
    assert.equal(answered400, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.ok(fds() <= fdsBefore + 2, `fds ${fdsBefore} → ${fds()}`);
    const reply = await exchange(port, uwsgiPacket(get()));
    assert.equal(parseHead(reply.bytes).statusLine, 'HTTP/1.1 200 OK');
  } finally {
    await served.stop();
  }
});

test('a pier without its native transport built says so once and serves uwsgi on libuv handles', async () => {
  // A copy of the built tree with no build/ directory: what an install without a compiler gets.
  const tree = mkdtempSync(path.join(tmpdir(), 'pier-no-native-'));
  try {
    cpSync(path.join(repoRoot, 'dist'), path.join(tree, 'dist'), { recursive: true });
    cpSync(path.join(repoRoot, 'package.json'), path.join(tree, 'package.json'));
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(tree, 'node_modules'));
    const served = await startServe(
      ['--socket', '127.0.0.1:0', '--app', path.join(tree, 'dist/examples/echo/app.js'), '--processes', '1'],
      { bin: path.join(tree, 'dist/src/cli/main.js') },
    );
    try {
      const port = Number(served.addresses[0]?.address.split(':')[1]);
      const reply = await exchange(port, uwsgiPacket(get()));
      assert.equal(parseHead(reply.bytes).statusLine, 'HTTP/1.1 200 OK');
      const notices =
        served.log().match(/the native transport is not built[^\n]*serving on libuv handles/g) ?? [];
      assert.equal(notices.length, 1, served.log());
    } finally {
      await served.stop();
    }
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
});

test('a bad CONTENT_LENGTH ("-1") gets 400 and an access line with the method, target and body bytes, over uwsgi and FastCGI', async () => {
  const served = await startServe([
    '--socket',
    '127.0.0.1:0',
    '--fastcgi-socket',
    `127.0.0.1:${await freePort()}`,
    '--app',
    echoApp,
  ]);
  const uwsgiPort = Number(served.addresses[0]?.address.split(':')[1]);
  const fastcgiPort = Number(served.addresses[1]?.address.split(':')[1]);
  const vars = (uri: string): Array<[string, string]> => [
    ['REQUEST_METHOD', 'POST'],
    ['REQUEST_URI', uri],
    ['CONTENT_LENGTH', '-1'],
    ['REMOTE_ADDR', '192.0.2.7'],
    ['HTTP_USER_AGENT', 'probe/1'],
  ];
  try {
    const reply = parseHead((await exchange(uwsgiPort, uwsgiPacket(vars('/form/uwsgi?a=1')))).bytes);
    assert.equal(reply.status, 400);
    const socket = await openSocket(fastcgiPort);
    const reader = new ReplyReader(socket);
    socket.write(Buffer.concat([begin(1), params(1, pairs(vars('/form/fastcgi?a=1'))), stdin(1, '')]));
    assert.match((await reader.response(1)).stdout.toString(), /^Status: 400 /);
    socket.destroy();
    for (const protocol of ['uwsgi', 'fastcgi']) {
      await served.waitForLog(new RegExp(`${protocol} 127\\.0\\.0\\.1:\\d+: CONTENT_LENGTH must be`));
    }
    const deadline = Date.now() + 5000;
    const lines = (): string[] =>
      served
        .output()
        .split('\n')
        .filter((line) => / 400 /.test(line));
    while (lines().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const protocol of ['uwsgi', 'fastcgi']) {
      const line = lines().find((l) => l.includes(`/form/${protocol}`));
      assert.match(
        line ?? served.output(),
        new RegExp(
          `^192\\.0\\.2\\.7 - - \\[[^\\]]+\\] "POST /form/${protocol}\\?a=1 HTTP/1\\.1" 400 [1-9]\\d* "-" "probe/1"`,
        ),
      );
    }
  } finally {
    await served.stop();
  }
});
