// Socket activation: the env contract as pure functions, then for real under
// systemd-socket-activate, which binds the sockets, waits for a first connection and execs
// the server with LISTEN_FDS / LISTEN_PID / LISTEN_FDNAMES, as PID 1 does for a .socket unit.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { InfraError } from './errors.js';
import { activatedSockets } from './socket-activation.js';
import { assignActivatedSockets, type ConfiguredSocket, parseFdReference } from './socket-assignment.js';

const here = path.dirname(fileURLToPath(import.meta.url));

describe('LISTEN_FDS / LISTEN_PID / LISTEN_FDNAMES', () => {
  test('fds 3.. with their names when LISTEN_PID is ours', () => {
    const env = { LISTEN_FDS: '2', LISTEN_PID: '77', LISTEN_FDNAMES: 'web:uwsgi' };
    assert.deepEqual(activatedSockets(env, 77), {
      sockets: [
        { fd: 3, name: 'web' },
        { fd: 4, name: 'uwsgi' },
      ],
      notice: undefined,
    });
  });
  test('unnamed descriptors are "unknown", as sd_listen_fds_with_names says', () => {
    assert.deepEqual(activatedSockets({ LISTEN_FDS: '1', LISTEN_PID: '5' }, 5).sockets, [
      { fd: 3, name: 'unknown' },
    ]);
  });
  test('LISTEN_PID of another process: the fds are ignored, and the notice says why', () => {
    const result = activatedSockets({ LISTEN_FDS: '2', LISTEN_PID: '1234' }, 77);
    assert.deepEqual(result.sockets, []);
    assert.equal(
      result.notice,
      'LISTEN_FDS=2 is for pid 1234, not this process (77): ignoring the passed sockets',
    );
    assert.match(activatedSockets({ LISTEN_FDS: '1' }, 77).notice ?? '', /LISTEN_PID unset/);
  });
  test('no LISTEN_FDS: nothing passed, nothing to say', () => {
    assert.deepEqual(activatedSockets({}, 1), { sockets: [], notice: undefined });
  });
  test('garbage in LISTEN_FDS or a name count that disagrees: a clear error', () => {
    assert.throws(
      () => activatedSockets({ LISTEN_FDS: 'two', LISTEN_PID: '1' }, 1),
      /LISTEN_FDS="two" is not a number/,
    );
    assert.throws(
      () => activatedSockets({ LISTEN_FDS: '2', LISTEN_PID: '1', LISTEN_FDNAMES: 'web' }, 1),
      /LISTEN_FDNAMES names 1 sockets \(web\) but LISTEN_FDS=2/,
    );
  });
});

describe('configured sockets → passed descriptors', () => {
  const passed = [
    { fd: 3, name: 'web', address: '127.0.0.1:9000' },
    { fd: 4, name: 'stats', address: '/run/hello/stats.sock' },
  ];
  test('fd:NAME, fd:N and a matching address each take their descriptor', () => {
    const configured: ConfiguredSocket[] = [
      { option: 'socket', value: '127.0.0.1:9000' },
      { option: 'stats', value: 'fd:stats' },
      { option: 'http-socket', value: ':9090' },
    ];
    assert.deepEqual(
      assignActivatedSockets(configured, passed).map((a) => a.fd),
      [3, 4, undefined],
    );
    assert.deepEqual(
      assignActivatedSockets(
        [
          { option: 'socket', value: 'fd:3' },
          { option: 'stats', value: 'fd:4' },
        ],
        passed,
      ).map((a) => a.fd),
      [3, 4],
    );
  });
  test(':PORT matches a descriptor bound to every interface', () => {
    const wildcard = [{ fd: 3, name: 'http', address: '0.0.0.0:9090' }];
    assert.equal(assignActivatedSockets([{ option: 'http-socket', value: ':9090' }], wildcard)[0]?.fd, 3);
  });
  test('LISTEN_FDS count not matching the config: an error naming both', () => {
    assert.throws(
      () => assignActivatedSockets([{ option: 'socket', value: 'fd:web', where: 'prod.ini:3' }], passed),
      (err: InfraError) => {
        assert.equal(err.code, 'SOCKET_COUNT');
        assert.equal(
          err.message,
          'systemd passed 2 socket(s) (LISTEN_FDS=2: fd 3 "web" 127.0.0.1:9000, fd 4 "stats" /run/hello/stats.sock) but the config takes 1 (prod.ini:3: socket = fd:web); unused: fd 4 "stats" /run/hello/stats.sock',
        );
        return true;
      },
    );
  });
  test('a name systemd did not pass, a reused fd, a malformed reference: errors', () => {
    assert.throws(
      () => assignActivatedSockets([{ option: 'socket', value: 'fd:admin', where: 'prod.ini:2' }], passed),
      /prod\.ini:2: socket = fd:admin: no such socket from systemd; it passed fd 3 "web"/,
    );
    assert.throws(
      () =>
        assignActivatedSockets(
          [
            { option: 'socket', value: 'fd:3' },
            { option: 'http-socket', value: 'fd:web' },
          ],
          passed,
        ),
      /http-socket = fd:web and socket = fd:3 both take fd 3/,
    );
    assert.throws(() => parseFdReference('fd:we b'), /"fd:we b" is not fd:NUMBER or fd:NAME/);
    assert.equal(parseFdReference('127.0.0.1:9000'), undefined);
  });
});

/** A server the test starts through systemd-socket-activate: it adopts what it was passed
 * (net.Server.listen({ fd })), learns each address, assigns them to PIER_TEST_SOCKETS, and
 * answers each connection with what it serves on. */
const activatedServer = `
import net from 'node:net';
const { activatedSockets } = await import(${JSON.stringify(path.join(here, 'socket-activation.js'))});
const { unixSocketPath } = await import(${JSON.stringify(path.join(here, 'socket-path.js'))});
const { assignActivatedSockets } = await import(${JSON.stringify(path.join(here, 'socket-assignment.js'))});
try {
  const activation = activatedSockets(process.env, process.pid);
  if (activation.notice) console.error(activation.notice);
  const listening = await Promise.all(activation.sockets.map((socket) => new Promise((resolve) => {
    const server = net.createServer();
    server.listen({ fd: socket.fd }, () => {
      const a = server.address();
      resolve({ ...socket, server, address: a ? a.address + ':' + a.port : unixSocketPath(socket.fd) });
    });
  })));
  const assignments = assignActivatedSockets(JSON.parse(process.env.PIER_TEST_SOCKETS), listening);
  for (const socket of listening) {
    const taker = assignments.find((a) => a.fd === socket.fd);
    const report = JSON.stringify({ pid: process.pid, fd: socket.fd, name: socket.name, address: socket.address, taker: taker.socket.value });
    socket.server.on('connection', (c) => c.end(report));
  }
} catch (err) {
  console.error('error[' + err.code + ']: ' + err.message);
  process.exit(2);
}
`;

describe('socket activation for real (systemd-socket-activate)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'pier-activate-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function start(listen: string[], names: string, configured: ConfiguredSocket[]) {
    const child = spawn(
      'systemd-socket-activate',
      [
        ...listen.flatMap((address) => ['-l', address]),
        `--fdname=${names}`,
        `-E`,
        `PIER_TEST_SOCKETS=${JSON.stringify(configured)}`,
        process.execPath,
        '--input-type=module',
        '-e',
        activatedServer,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, exited, stderr: () => stderr };
  }

  test('the first connection starts the server, which answers it on the passed descriptor', async () => {
    const port = await freePort();
    const unixPath = path.join(dir, 'stats.sock');
    const server = start([`127.0.0.1:${port}`, unixPath], 'web:stats', [
      { option: 'socket', value: `127.0.0.1:${port}` },
      { option: 'stats', value: unixPath },
    ]);
    try {
      await waitFor(() => server.stderr().includes(`Listening on ${unixPath}`), server.stderr);
      const first = JSON.parse(await exchange({ port, host: '127.0.0.1' }));
      assert.deepEqual(
        { ...first, pid: undefined },
        { pid: undefined, fd: 3, name: 'web', address: `127.0.0.1:${port}`, taker: `127.0.0.1:${port}` },
      );
      // LISTEN_PID named the server itself (systemd-socket-activate execs it in place).
      assert.equal(first.pid, server.child.pid);
      const second = JSON.parse(await exchange({ path: unixPath }));
      assert.deepEqual(
        { fd: second.fd, name: second.name, address: second.address },
        {
          fd: 4,
          name: 'stats',
          address: unixPath,
        },
      );
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  test('a .socket with more sockets than the ini takes: the server stops with both named', async () => {
    const port = await freePort();
    const unixPath = path.join(dir, 'extra.sock');
    const server = start([`127.0.0.1:${port}`, unixPath], 'web:extra', [
      { option: 'socket', value: 'fd:web' },
    ]);
    await waitFor(() => server.stderr().includes(`Listening on ${unixPath}`), server.stderr);
    await exchange({ port, host: '127.0.0.1' }).catch(() => '');
    assert.equal(await server.exited, 2, server.stderr());
    assert.match(
      server.stderr(),
      /error\[SOCKET_COUNT\]: systemd passed 2 socket\(s\) \(LISTEN_FDS=2: fd 3 "web" 127\.0\.0\.1:\d+, fd 4 "extra" \S+extra\.sock\) but the config takes 1 \(socket = fd:web\)/,
    );
  });
});

function exchange(target: { port: number; host: string } | { path: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(target as never);
    let data = '';
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString();
    });
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

async function waitFor(ready: () => boolean, describe: () => string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out; output so far:\n${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
