// sd_notify against real AF_UNIX datagram sockets bound here: the exact bytes systemd would read.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatNotifyMessage, parseNotifyAddress, watchdogIntervalMs } from './notify-message.js';
import { commandTransport, loadUnixDgram } from './notify-transport.js';
import { createNotifier } from './sd-notify.js';

/** A bound datagram socket collecting what arrives, like PID 1's notify socket. */
function listen(socketPath: string) {
  const dgram = loadUnixDgram();
  assert.ok(dgram, 'the unix-dgram addon did not build: run `npm ci` with a C++ toolchain');
  const received: string[] = [];
  const waiters: Array<() => void> = [];
  const socket = (
    dgram as unknown as {
      createSocket(type: string, onMessage: (buf: Buffer) => void): { bind(p: string): void; close(): void };
    }
  ).createSocket('unix_dgram', (buf) => {
    received.push(buf.toString());
    for (const wake of waiters.splice(0)) wake();
  });
  socket.bind(socketPath);
  return {
    received,
    async next(count: number, timeoutMs = 2000): Promise<string[]> {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 20);
        });
      }
      return received.slice(0, count);
    },
    close: () => socket.close(),
  };
}

describe('sd_notify message format', () => {
  test('fields become KEY=VALUE lines; a value cannot smuggle a second line', () => {
    assert.equal(formatNotifyMessage({ READY: 1, STATUS: 'ok' }), 'READY=1\nSTATUS=ok');
    assert.equal(formatNotifyMessage({ STATUS: 'a\nREADY=1\r\n' }), 'STATUS=a READY=1 ');
  });
  test('@name is the abstract namespace (leading NUL); relative paths are refused', () => {
    assert.deepEqual(parseNotifyAddress('@pier/x'), { path: '\0pier/x', abstract: true });
    assert.deepEqual(parseNotifyAddress('/run/systemd/notify'), {
      path: '/run/systemd/notify',
      abstract: false,
    });
    assert.ok('error' in parseNotifyAddress('run/notify'));
    assert.ok('error' in parseNotifyAddress('@'));
  });
  test('watchdog interval is half of WATCHDOG_USEC, only for the pid it names', () => {
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '3000000' }, 42), 1500);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '3000000', WATCHDOG_PID: '42' }, 42), 1500);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '3000000', WATCHDOG_PID: '41' }, 42), undefined);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: 'soon' }, 42), undefined);
    assert.equal(watchdogIntervalMs({}, 42), undefined);
  });
});

describe('sd_notify over a real unix datagram socket', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'pier-notify-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('each call is one datagram with exactly the documented fields', async () => {
    const socketPath = path.join(dir, 'notify.sock');
    const systemd = listen(socketPath);
    const lines: string[] = [];
    const notifier = createNotifier({
      env: { NOTIFY_SOCKET: socketPath },
      pid: process.pid,
      log: (line) => lines.push(line),
      clock: () => 1_234_567_890_123n,
    });
    assert.equal(notifier.transport, 'datagram');
    await notifier.ready('2 workers');
    await notifier.reloading();
    await notifier.ready();
    await notifier.status('serving\nREADY=1');
    await notifier.watchdog();
    await notifier.mainPid(4321);
    await notifier.stopping();
    assert.deepEqual(await systemd.next(7), [
      'READY=1\nSTATUS=2 workers',
      'RELOADING=1\nMONOTONIC_USEC=1234567890',
      'READY=1',
      'STATUS=serving READY=1',
      'WATCHDOG=1',
      'MAINPID=4321',
      'STOPPING=1',
    ]);
    assert.deepEqual(lines, []);
    notifier.close();
    systemd.close();
  });

  test('MONOTONIC_USEC is CLOCK_MONOTONIC in µs by default', async () => {
    const socketPath = path.join(dir, 'clock.sock');
    const systemd = listen(socketPath);
    const notifier = createNotifier({ env: { NOTIFY_SOCKET: socketPath }, pid: process.pid, log: () => {} });
    const before = process.hrtime.bigint() / 1000n;
    await notifier.reloading();
    const afterUs = process.hrtime.bigint() / 1000n;
    const [message = ''] = await systemd.next(1);
    const usec = BigInt(/^RELOADING=1\nMONOTONIC_USEC=(\d+)$/.exec(message)?.[1] ?? '-1');
    assert.ok(usec >= before && usec <= afterUs, message);
    notifier.close();
    systemd.close();
  });

  test('the watchdog pings at half of WATCHDOG_USEC, and not for another pid', async () => {
    const socketPath = path.join(dir, 'watchdog.sock');
    const systemd = listen(socketPath);
    const ours = createNotifier({
      env: { NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: '60000', WATCHDOG_PID: String(process.pid) },
      pid: process.pid,
      log: () => {},
    });
    const theirs = createNotifier({
      env: { NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: '60000', WATCHDOG_PID: '1' },
      pid: process.pid,
      log: () => {},
    });
    assert.equal(ours.watchdogMs, 30);
    assert.equal(theirs.watchdogMs, undefined);
    theirs.startWatchdog();
    ours.startWatchdog();
    const start = Date.now();
    const pings = await systemd.next(3);
    const elapsed = Date.now() - start;
    ours.close();
    theirs.close();
    assert.deepEqual(pings, ['WATCHDOG=1', 'WATCHDOG=1', 'WATCHDOG=1']);
    assert.ok(elapsed >= 60 && elapsed < 1000, `3 pings took ${elapsed} ms`);
    systemd.close();
  });

  test('no NOTIFY_SOCKET: silent, nothing sent, nothing logged', async () => {
    const lines: string[] = [];
    const notifier = createNotifier({
      env: { WATCHDOG_USEC: '1000' },
      pid: process.pid,
      log: (l) => lines.push(l),
    });
    assert.equal(notifier.enabled, false);
    await notifier.ready();
    notifier.startWatchdog();
    notifier.close();
    assert.deepEqual(lines, []);
  });

  test('a NOTIFY_SOCKET that points nowhere: one warning line, every call still resolves', async () => {
    const lines: string[] = [];
    const missing = path.join(dir, 'nobody-listens.sock');
    const notifier = createNotifier({
      env: { NOTIFY_SOCKET: missing },
      pid: process.pid,
      log: (l) => lines.push(l),
    });
    await notifier.ready();
    await notifier.status('x');
    await notifier.stopping();
    notifier.close();
    assert.equal(lines.length, 1);
    assert.match(
      lines[0] ?? '',
      /^sd_notify: cannot send to NOTIFY_SOCKET=.*nobody-listens\.sock \(ENOENT\); serving without/,
    );
  });

  test('a NOTIFY_SOCKET that is not an address: one warning line', async () => {
    const lines: string[] = [];
    const notifier = createNotifier({
      env: { NOTIFY_SOCKET: 'notify.sock' },
      pid: 1,
      log: (l) => lines.push(l),
    });
    await notifier.ready();
    assert.equal(notifier.enabled, false);
    assert.deepEqual(lines, [
      'sd_notify: NOTIFY_SOCKET="notify.sock" is neither an absolute path nor an @abstract name; serving without systemd notifications',
    ]);
  });

  test('fallback: systemd-notify --no-block delivers the same fields', async () => {
    const socketPath = path.join(dir, 'fallback.sock');
    const systemd = listen(socketPath);
    const notifier = createNotifier({
      env: { NOTIFY_SOCKET: socketPath, PATH: process.env.PATH },
      pid: process.pid,
      log: (line) => assert.fail(line),
      transport: commandTransport({ path: socketPath, abstract: false }, { PATH: process.env.PATH }),
    });
    assert.equal(notifier.transport, 'systemd-notify');
    await notifier.ready('up');
    await notifier.stopping();
    assert.deepEqual(await systemd.next(2), ['READY=1\nSTATUS=up', 'STOPPING=1']);
    systemd.close();
  });

  test('an @abstract NOTIFY_SOCKET receives the datagram at the NUL-prefixed name', async () => {
    const name = `pier-test-notify-${process.pid}-${Date.now()}`;
    // unix-dgram cannot bind abstract names either, so Python's socket module receives here.
    const receiver = spawn('python3', [
      '-c',
      'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind("\\0"+sys.argv[1])\nprint("bound",flush=True)\nsys.stdout.write(s.recv(4096).hex())',
      name,
    ]);
    let out = '';
    receiver.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    while (!out.includes('bound')) await new Promise((resolve) => setTimeout(resolve, 10));
    const notifier = createNotifier({
      env: { NOTIFY_SOCKET: `@${name}`, PATH: process.env.PATH },
      pid: process.pid,
      log: (line) => assert.fail(line),
    });
    await notifier.ready('abstract');
    await new Promise((resolve) => receiver.once('exit', resolve));
    assert.equal(Buffer.from(out.replace('bound\n', ''), 'hex').toString(), 'READY=1\nSTATUS=abstract');
  });
});
