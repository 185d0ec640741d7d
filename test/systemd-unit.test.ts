// The generated deploy/ under a real systemd: a Debian host booted with systemd-nspawn gets the
// Hello release under /opt/hello (this build, mounted read-only, and the host's node), runs
// deploy/scripts/install.sh, and is then driven the way an operator would: start, requests
// through nginx, reload under load, kill -9, the watchdog, stop, a build that never
// notifies, and the socket-activated variant.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { http } from './helpers/net.js';
import { type Bridge, createBridge, type SystemdHost, startSystemdHost } from './helpers/nspawn.js';
import { repoRoot } from './helpers/paths.js';

const hostAddress = '10.251.62.2';
const site = { host: 'hello.localhost' };

describe('the Hello release as a systemd service (deploy/systemd/hello.service)', () => {
  let bridge: Bridge;
  let host: SystemdHost;

  const show = async (property: string, unit = 'hello.service'): Promise<string> =>
    (await host.run(['systemctl', 'show', '-p', property, '--value', unit])).trim();
  const mainPid = async (): Promise<number> => Number(await show('MainPID'));
  /** The running master's pid; never 0, which `kill` would take as "my whole process group". */
  const runningMaster = async (): Promise<number> => {
    const pid = await mainPid();
    assert.ok(pid > 0, `hello.service has no main process:\n${await journal()}`);
    return pid;
  };
  const journal = async (unit = 'hello.service'): Promise<string> =>
    host.run(['journalctl', '-u', unit, '--no-pager', '-o', 'cat']);
  const hello = () => http(`http://${hostAddress}/`, { headers: site });
  const dropIn = async (name: string, text: string | undefined): Promise<void> => {
    const file = `/etc/systemd/system/hello.service.d/${name}.conf`;
    if (text === undefined) await host.run(['rm', '-f', file]);
    else {
      await host.run(['mkdir', '-p', '/etc/systemd/system/hello.service.d']);
      await host.run(['sh', '-c', 'cat > "$0"', file], { input: text });
    }
    await host.run(['systemctl', 'daemon-reload']);
  };
  async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe().catch(() => undefined);
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out: ${what}\n${await journal().catch(() => '')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  before(async () => {
    bridge = await createBridge('pisbr62', '10.251.62.1/24');
    host = await startSystemdHost({
      name: 'pis-unit62',
      bridge: bridge.name,
      address: `${hostAddress}/24`,
      binds: [{ source: '/usr/bin/node' }, { source: repoRoot, target: '/opt/hello/releases/r1' }],
    });
    await host.run(['ln', '-sfn', 'releases/r1', '/opt/hello/current']);
    // As the seed does: our site replaces nginx's default one.
    await host.run(['rm', '-f', '/etc/nginx/sites-enabled/default']);
  });
  after(async () => {
    await host?.stop();
    await bridge?.remove();
  });

  test('install.sh: the unit starts, active only once pier said READY=1, as its own user', async () => {
    await host.run(['/opt/hello/current/deploy/scripts/install.sh']);
    assert.equal(await show('ActiveState'), 'active');
    const log = await journal();
    // systemd logged "Started" only after pier's master reported every worker ready.
    const ready = log.indexOf('master.ready');
    const started = log.indexOf('Started hello.service');
    assert.ok(ready >= 0 && started > ready, log);
    const pid = await runningMaster();
    const status = await host.run(['cat', `/proc/${pid}/status`]);
    const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    assert.equal((await host.run(['id', '-u', 'hello'])).trim(), uid);
    assert.notEqual(uid, '0');
    const users = await host.run(['ps', '-o', 'user=', '--ppid', String(pid)]);
    assert.deepEqual([...new Set(users.trim().split(/\s+/))], ['hello'], 'the workers run as hello too');
    assert.match(await show('StatusText'), /^2 of 2 workers ready/);
  });

  test('a request through nginx (uwsgi_pass to prod.ini) answers Hello', async () => {
    const res = await hello();
    assert.equal(res.status, 200, res.body.toString());
    assert.match(res.body.toString(), /^Hello! \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
  });

  test('systemctl reload under load: chain reload, RELOADING then READY, no failed request', async () => {
    const before = await mainPid();
    // Long enough for three chain reloads even when the machine is busy with other tests.
    const loadSeconds = 20;
    const loadEnds = Date.now() + loadSeconds * 1000;
    const load = wrk(`http://${hostAddress}/`, loadSeconds, ['-H', `Host: ${site.host}`]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (let i = 0; i < 3; i++) {
      // pier's RELOADING=1 puts the unit in "reloading" until its READY=1 at the end of the
      // chain; systemctl returns before or after that, depending on which it hears first.
      const seen: string[] = [];
      let returned = false;
      const reload = host.run(['systemctl', 'reload', 'hello.service']).finally(() => {
        returned = true;
      });
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        const state = await show('ActiveState');
        if (seen.at(-1) !== state) seen.push(state);
        if (returned && state === 'active' && seen.includes('reloading')) break;
      }
      await reload;
      // On systemd 252 (no Type=notify-reload) `kill -HUP` may return before pier's RELOADING=1
      // arrives, so the unit can show reloading → active → reloading → active for one reload.
      // What must hold: it went through reloading, only ever reloading/active, and ended active.
      const fromReload = seen.slice(seen.indexOf('reloading'));
      assert.ok(seen.includes('reloading'), `reload ${i + 1}: ${seen}`);
      assert.ok(
        fromReload.every((state) => state === 'reloading' || state === 'active'),
        `reload ${i + 1}: ${seen}`,
      );
      assert.equal(fromReload.at(-1), 'active', `reload ${i + 1}: ${seen}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    assert.ok(Date.now() < loadEnds, 'the reloads outlasted the load: make the load longer');
    const result = await load;
    assert.ok(result.requests > 100, result.raw);
    assert.equal(result.non2xx, 0, result.raw);
    assert.equal(result.socketErrors, 0, result.raw);
    assert.equal(await mainPid(), before, 'a reload must not restart the master');
    assert.equal(await show('ActiveState'), 'active');
    const log = await journal();
    assert.equal(log.match(/reload\.done/g)?.length, 3, log);
    process.stderr.write(`# reload under load: ${result.requests} requests, ${result.requestsPerSecond}/s\n`);
  });

  test('kill -9 of the master: systemd restarts it (Restart=always)', async () => {
    const before = await runningMaster();
    const restarts = Number(await show('NRestarts'));
    await host.run(['kill', '-9', String(before)]);
    const after = await until('a new master', async () => {
      const pid = await mainPid();
      return pid !== before && pid !== 0 && (await show('ActiveState')) === 'active' ? pid : undefined;
    });
    assert.notEqual(after, before);
    assert.equal(Number(await show('NRestarts')), restarts + 1);
    assert.equal((await hello()).status, 200);
  });

  test('a master that stops pinging the watchdog is restarted', async () => {
    await dropIn('watchdog', '[Service]\nWatchdogSec=2\nTimeoutAbortSec=1\n');
    await host.run(['systemctl', 'restart', 'hello.service']);
    const before = await runningMaster();
    // Alive but silent: pings stop, as they would if its event loop hung.
    await host.run(['kill', '-STOP', String(before)]);
    const after = await until('a restart by the watchdog', async () => {
      const pid = await mainPid();
      return pid !== before && pid !== 0 && (await show('ActiveState')) === 'active' ? pid : undefined;
    });
    assert.notEqual(after, before);
    assert.match(await journal(), /[Ww]atchdog timeout/);
    await dropIn('watchdog', undefined);
    await host.run(['systemctl', 'restart', 'hello.service']);
  });

  test('systemctl stop (SIGQUIT): down within 1 s', async () => {
    const pid = await runningMaster();
    const start = Date.now();
    await host.run(['systemctl', 'stop', 'hello.service']);
    const elapsed = Date.now() - start;
    assert.ok(elapsed < 1000, `stop took ${elapsed} ms`);
    assert.equal(await show('ActiveState'), 'inactive');
    assert.equal((await host.exec(['kill', '-0', String(pid)])).code, 1, 'the master outlived the stop');
    process.stderr.write(`# systemctl stop took ${elapsed} ms\n`);
  });

  test('a build that never notifies: the start times out, however well it serves', async () => {
    // The same pier, deaf to systemd: it never learns where to send READY=1.
    await dropIn('silent', '[Service]\nUnsetEnvironment=NOTIFY_SOCKET\nTimeoutStartSec=3\nRestart=no\n');
    const start = Date.now();
    const result = await host.exec(['systemctl', 'start', 'hello.service']);
    const elapsed = Date.now() - start;
    assert.notEqual(result.code, 0);
    assert.ok(elapsed >= 2900, `failed after ${elapsed} ms, before its TimeoutStartSec`);
    assert.equal(await show('Result'), 'timeout');
    // It was serving all along: the timeout is systemd not hearing READY=1, not a broken build.
    assert.match(await journal(), /master\.ready[\s\S]*start operation timed out/);
    await dropIn('silent', undefined);
    await host.run(['systemctl', 'reset-failed', 'hello.service']);
  });

  test('socket-activated: the first request starts pier through hello.socket and is answered', async () => {
    await host.run(['/opt/hello/current/deploy/scripts/install.sh', '--socket']);
    await host.run(['systemctl', 'stop', 'hello.service']);
    assert.equal(await show('ActiveState', 'hello.socket'), 'active');
    assert.equal(await show('ActiveState'), 'inactive');
    const res = await hello();
    assert.equal(res.status, 200, res.body.toString());
    assert.match(res.body.toString(), /^Hello! /);
    const pid = await runningMaster();
    const environ = (await host.run(['cat', `/proc/${pid}/environ`])).split('\0');
    assert.ok(
      environ.includes('LISTEN_FDS=1') && environ.includes('LISTEN_FDNAMES=uwsgi'),
      environ.join(' '),
    );
    assert.equal(await show('TriggeredBy'), 'hello.socket');
  });
});

/** wrk with extra arguments (a Host header), read the way test/helpers/load.ts reads it. */
async function wrk(url: string, seconds: number, extra: string[]) {
  const { parseWrk } = await import('./helpers/load.js');
  return new Promise<ReturnType<typeof parseWrk>>((resolve, reject) => {
    const child = spawn('wrk', ['-t2', '-c16', `-d${seconds}s`, ...extra, url]);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      out += text;
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      out += text;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(parseWrk(out)) : reject(new Error(`wrk exited ${code}: ${out}`)),
    );
  });
}
