// `pier serve` as systemd runs it, on this host: the notify socket is one the test binds, and
// socket activation comes from systemd-socket-activate (which binds, waits for the first
// connection and execs the server with LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES, as PID 1 does).
// The same behaviour under a real systemd is in systemd-unit.test.ts.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, http, waitForPort } from './helpers/net.js';
import { bindNotifySocket } from './helpers/notify-socket.js';
import { pierBin, repoRoot } from './helpers/paths.js';

const helloApp = path.join(repoRoot, 'dist/src/hello/hello.js');

interface Served {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function serve(argv: string[], env: Record<string, string>): Served {
  const child = spawn(argv[0] as string, argv.slice(1), {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

function writeIni(dir: string, name: string, lines: string[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, `[pier]\n${lines.join('\n')}\n`);
  return file;
}

async function until(check: () => boolean, what: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting; output:\n${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('pier serve speaks sd_notify', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'pier-sd-serve-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('READY once the workers accept, RELOADING/READY around a HUP, STOPPING on TERM', async () => {
    const notify = bindNotifySocket(path.join(dir, 'notify.sock'));
    const port = await freePort();
    const ini = writeIni(dir, 'notify.ini', [
      `http-socket = 127.0.0.1:${port}`,
      `app = ${helloApp}`,
      'processes = 2',
    ]);
    const server = serve([process.execPath, pierBin, 'serve', ini], { NOTIFY_SOCKET: notify.path });
    try {
      const pid = server.child.pid;
      assert.equal(await notify.waitFor(/^READY=1/), `READY=1\nMAINPID=${pid}`);
      // Ready means serving: a request sent the moment READY arrives is answered.
      assert.equal((await http(`http://127.0.0.1:${port}/`)).status, 200);
      const status = await notify.waitFor(/^STATUS=/);
      assert.match(status, /^STATUS=2 of 2 workers ready, \d+ requests/);
      // The status counts the reloads that are over, and names the files workers start from.
      assert.match(status, /; reloads: 0; workers start from \S+\/worker\/main\.js on \S+node$/);

      server.child.kill('SIGHUP');
      assert.match(await notify.waitFor(/^RELOADING=1/), /^RELOADING=1\nMONOTONIC_USEC=\d+$/);
      assert.equal(await notify.waitFor(/^READY=1/), `READY=1\nMAINPID=${pid}`);
      assert.match(await notify.waitFor(/^STATUS=[^\n]*reloads: 1;/), /; reloads: 1; /);

      assert.equal(await server.stop('SIGTERM'), 0);
      assert.equal(await notify.waitFor(/^STOPPING=1/), 'STOPPING=1');
      // Nothing but the master spoke: every datagram is one of the documented kinds.
      for (const message of notify.messages) assert.match(message, /^(READY|RELOADING|STATUS|STOPPING)=/);
    } finally {
      await server.stop('SIGKILL');
      notify.close();
    }
  });

  test('the watchdog is pinged at half of WATCHDOG_USEC; workers never see the systemd variables', async () => {
    const notify = bindNotifySocket(path.join(dir, 'watchdog.sock'));
    const port = await freePort();
    const ini = writeIni(dir, 'watchdog.ini', [
      `http-socket = 127.0.0.1:${port}`,
      `app = ${helloApp}`,
      'processes = 1',
    ]);
    const server = serve([process.execPath, pierBin, 'serve', ini], {
      NOTIFY_SOCKET: notify.path,
      WATCHDOG_USEC: '200000',
    });
    try {
      await notify.waitFor(/^READY=1/);
      const start = Date.now();
      for (let i = 0; i < 4; i++) await notify.waitFor(/^WATCHDOG=1$/, 2000);
      const elapsed = Date.now() - start;
      assert.ok(elapsed < 1000, `4 pings at 100 ms took ${elapsed} ms`);
      const workerPid = /worker\.spawn slot=1 pid=(\d+)/.exec(server.output())?.[1];
      assert.ok(workerPid, server.output());
      const environ = readFileSync(`/proc/${workerPid}/environ`, 'utf8').split('\0');
      assert.deepEqual(
        environ.filter((entry) => /^(NOTIFY_SOCKET|WATCHDOG_|LISTEN_)/.test(entry)),
        [],
        'a worker inherited a variable systemd meant for the master',
      );
    } finally {
      await server.stop('SIGKILL');
      notify.close();
    }
  });

  test('a NOTIFY_SOCKET that points nowhere: it serves anyway, with one warning line', async () => {
    const port = await freePort();
    const ini = writeIni(dir, 'nowhere.ini', [
      `http-socket = 127.0.0.1:${port}`,
      `app = ${helloApp}`,
      'processes = 1',
    ]);
    const server = serve([process.execPath, pierBin, 'serve', ini], {
      NOTIFY_SOCKET: path.join(dir, 'nobody-here.sock'),
    });
    try {
      await until(() => server.output().includes('master.ready'), server.output);
      assert.equal((await http(`http://127.0.0.1:${port}/`)).status, 200);
      server.child.kill('SIGHUP');
      await until(() => server.output().includes('reload.done'), server.output);
      const warnings = server
        .output()
        .split('\n')
        .filter((line) => line.includes('sd_notify'));
      assert.equal(warnings.length, 1, server.output());
      assert.match(
        warnings[0] ?? '',
        /WARN systemd message="sd_notify: cannot send to NOTIFY_SOCKET=.*nobody-here\.sock \(ENOENT\)/,
      );
    } finally {
      await server.stop('SIGKILL');
    }
  });
});

describe('pier serve with socket activation', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'pier-sd-activate-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the first request starts pier and is answered through the passed socket', async () => {
    const port = await freePort();
    // The ini names the address; the descriptor systemd bound to that address is taken.
    const ini = writeIni(dir, 'activated.ini', [
      `http-socket = 127.0.0.1:${port}`,
      `app = ${helloApp}`,
      'processes = 2',
    ]);
    const server = serve(
      [
        'systemd-socket-activate',
        '-l',
        `127.0.0.1:${port}`,
        '--fdname=web',
        process.execPath,
        pierBin,
        'serve',
        ini,
      ],
      {},
    );
    try {
      await waitForPort(port);
      const first = await http(`http://127.0.0.1:${port}/`);
      assert.equal(first.status, 200, server.output());
      assert.match(first.body.toString(), /^Hello! /);
      assert.match(
        server.output(),
        new RegExp(`socket\\.bound protocol=http address=127\\.0\\.0\\.1:${port}`),
      );
      assert.doesNotMatch(server.output(), /WARN/);
    } finally {
      await server.stop('SIGTERM');
    }
  });

  test('no socket in the config: pier serves what systemd passed, HTTP when unnamed (as gunicorn does)', async () => {
    const port = await freePort();
    const server = serve(
      [
        'systemd-socket-activate',
        '-l',
        `127.0.0.1:${port}`,
        process.execPath,
        pierBin,
        'serve',
        '--app',
        helloApp,
      ],
      {},
    );
    try {
      await waitForPort(port);
      const res = await http(`http://127.0.0.1:${port}/`);
      assert.equal(res.status, 200, server.output());
      assert.match(res.body.toString(), /^Hello! /);
      assert.match(
        server.output(),
        new RegExp(`socket\\.bound protocol=http address=127\\.0\\.0\\.1:${port}`),
      );
    } finally {
      await server.stop('SIGTERM');
    }
  });

  test('fd:NAME in the ini takes the descriptor of that name', async () => {
    const port = await freePort();
    const ini = writeIni(dir, 'named.ini', ['http-socket = fd:web', `app = ${helloApp}`, 'processes = 1']);
    const server = serve(
      [
        'systemd-socket-activate',
        '-l',
        `127.0.0.1:${port}`,
        '--fdname=web',
        process.execPath,
        pierBin,
        'serve',
        ini,
      ],
      {},
    );
    try {
      await waitForPort(port);
      assert.equal((await http(`http://127.0.0.1:${port}/`)).status, 200, server.output());
    } finally {
      await server.stop('SIGTERM');
    }
  });

  test('more sockets passed than the ini takes: exit 2, both named', async () => {
    const port = await freePort();
    const extra = path.join(dir, 'extra.sock');
    const ini = writeIni(dir, 'mismatch.ini', [`http-socket = 127.0.0.1:${port}`, `app = ${helloApp}`]);
    const server = serve(
      [
        'systemd-socket-activate',
        '-l',
        `127.0.0.1:${port}`,
        '-l',
        extra,
        '--fdname=web:extra',
        process.execPath,
        pierBin,
        'serve',
        ini,
      ],
      {},
    );
    await waitForPort(port);
    await http(`http://127.0.0.1:${port}/`).catch(() => undefined);
    assert.equal(await server.exited, 2, server.output());
    assert.match(
      server.output(),
      new RegExp(
        `error\\[SOCKET_COUNT\\]: systemd passed 2 socket\\(s\\) \\(LISTEN_FDS=2: fd 3 "web" 127\\.0\\.0\\.1:${port}, fd 4 "extra" ${extra.replaceAll('.', '\\.')}\\) but the config takes 1 \\(http-socket = 127\\.0\\.0\\.1:${port}\\)`,
      ),
    );
  });

  test('LISTEN_PID of another process: the variables are ignored, with a line saying so', async () => {
    const port = await freePort();
    const ini = writeIni(dir, 'other-pid.ini', [
      `http-socket = 127.0.0.1:${port}`,
      `app = ${helloApp}`,
      'processes = 1',
    ]);
    const server = serve([process.execPath, pierBin, 'serve', ini], { LISTEN_FDS: '1', LISTEN_PID: '1' });
    try {
      await until(() => server.output().includes('master.ready'), server.output);
      assert.equal((await http(`http://127.0.0.1:${port}/`)).status, 200);
      assert.match(
        server.output(),
        /socket activation: LISTEN_FDS=1 is for pid 1, not this process \(\d+\): ignoring the passed sockets/,
      );
    } finally {
      await server.stop('SIGTERM');
    }
  });
});
