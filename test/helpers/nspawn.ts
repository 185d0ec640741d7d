// Hosts with a real systemd as PID 1, for integration tests: Debian bookworm booted with
// systemd-nspawn on a bridge of the test's own, reachable at a static address.
//
//   const bridge = await createBridge('pisbr7', '10.251.7.1/24');
//   const host = await startSystemdHost({ name: 'pis-web1', bridge: bridge.name, address: '10.251.7.2/24' });
//   await host.run(['systemctl', 'start', 'nginx']);          // nsenter into the host: stdout, throws on failure
//   const { code, stdout } = await host.exec(['systemctl', 'is-active', 'x']);   // never throws on exit codes
//   await host.stop();                                         // SIGTERM to nspawn: a clean shutdown
//   await bridge.remove();
//
// - The root is the cached debootstrap tree (scripts/systemd-test-root.sh, built once under
//   /var/cache/pier-test/bookworm, about a minute; concurrent callers wait on its lock). Each
//   host boots from a copy-on-write overlay of it (a plain copy where overlayfs is refused), so
//   hosts never see each other's changes and the cache stays pristine.
// - `files` are written into the host's tree before boot (paths absolute inside the host);
//   `binds` mount host paths into it (read-only unless said otherwise).
// - `authorizedKeys` starts sshd at boot with those keys for root, and fresh host keys (read
//   them from `host.root`/etc/ssh).
// - Names must start with `pis` (bridges, machines): other test files use other prefixes.
// - Needs root, systemd-nspawn (systemd-container), debootstrap, iproute2.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ensureSystemdRoot,
  mountRoot,
  prepareRoot,
  type RootOptions,
  releaseRoot,
  removeStaleHosts,
  sh,
  sleep,
} from './host-root.js';

export { ensureSystemdRoot, systemdRootCache } from './host-root.js';

export interface Bridge {
  name: string;
  /** The host side's address on the bridge, without the prefix length. */
  gateway: string;
  remove(): Promise<void>;
}

export interface SystemdHostOptions extends RootOptions {
  /** Machine name and hostname; starts with `pis`. */
  name: string;
  /** An existing bridge (see createBridge). */
  bridge: string;
  /** The host's address with prefix length, in the bridge's subnet: `10.251.7.2/24`. */
  address: string;
  files?: Record<string, { content: string; mode?: number }>;
  binds?: Array<{ source: string; target?: string; readOnly?: boolean }>;
  /** Public keys allowed to log in as root over ssh; sshd runs only when given. */
  authorizedKeys?: string[];
  /** Boot timeout; default 60 s. */
  timeoutMs?: number;
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface SystemdHost {
  name: string;
  /** Its address on the bridge, without the prefix length. */
  address: string;
  /** systemd-nspawn's pid (on the test's side). */
  pid: number;
  /** The host's PID 1, as the test's pid namespace numbers it. */
  initPid: number;
  /** Its root tree as the test sees it. */
  root: string;
  /** Run argv inside the host (all its namespaces); resolves whatever the exit code. */
  exec(argv: string[], options?: { input?: string; timeoutMs?: number }): Promise<ExecResult>;
  /** Like exec, but returns stdout and throws with stderr on a non-zero exit. */
  run(argv: string[], options?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** The console output so far (boot messages), for failure reports. */
  console(): string;
  /** Shut it down (SIGTERM to nspawn, SIGKILL after 10 s) and remove its tree. */
  stop(): Promise<void>;
}

export async function createBridge(name: string, cidr: string): Promise<Bridge> {
  assertTestName(name);
  // Names are unique per test file, so one that exists was left by a run that was killed.
  await sh('ip', ['link', 'del', name]).catch(() => '');
  await sh('ip', ['link', 'add', name, 'type', 'bridge']);
  try {
    await sh('ip', ['addr', 'add', cidr, 'dev', name]);
    await sh('ip', ['link', 'set', name, 'up']);
  } catch (err) {
    await sh('ip', ['link', 'del', name]).catch(() => {});
    throw err;
  }
  return {
    name,
    gateway: cidr.split('/')[0] ?? cidr,
    async remove() {
      await sh('ip', ['link', 'del', name]).catch(() => '');
    },
  };
}

export async function startSystemdHost(options: SystemdHostOptions): Promise<SystemdHost> {
  assertTestName(options.name);
  const cache = ensureSystemdRoot();
  await removeStaleHosts(options.name);
  const work = mkdtempSync(path.join(tmpdir(), `pier-${options.name}-`));
  const root = await mountRoot(cache, work);
  let child: ChildProcess | undefined;
  try {
    prepareRoot(root, options);
    const args = [
      '-D',
      root,
      '--boot',
      '--register=no',
      '--keep-unit',
      '-M',
      options.name,
      `--network-bridge=${options.bridge}`,
      '--console=pipe',
      '--quiet',
      ...(options.binds ?? []).map(
        (b) => `--bind${b.readOnly === false ? '' : '-ro'}=${b.source}${b.target ? `:${b.target}` : ''}`,
      ),
    ];
    child = spawn('systemd-nspawn', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    writeFileSync(path.join(work, 'nspawn.pid'), `${child.pid}\n`);
    const host = await boot(child, root, work, options);
    return host;
  } catch (err) {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await releaseRoot(root, work);
    throw err;
  }
}

async function boot(
  child: ChildProcess,
  root: string,
  work: string,
  options: SystemdHostOptions,
): Promise<SystemdHost> {
  let consoleText = '';
  const collect = (chunk: Buffer) => {
    consoleText += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid ?? 0;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);

  let initPid: number | undefined;
  while (initPid === undefined) {
    if (child.exitCode !== null)
      throw new Error(`systemd-nspawn exited (${child.exitCode}):\n${consoleText}`);
    if (Date.now() > deadline)
      throw new Error(`no init in ${options.name} after its timeout:\n${consoleText}`);
    initPid = findInit(pid);
    if (initPid === undefined) await sleep(20);
  }

  const exec = (argv: string[], o: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> =>
    new Promise((resolve) => {
      const proc = spawn('nsenter', ['-t', String(initPid), '-a', ...argv], {
        // Its own process group: a `kill 0` (or -STOP 0) run inside must never reach the test.
        detached: true,
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
        stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        timeout: o.timeoutMs ?? 60_000,
      });
      let stdout = '';
      let stderr = '';
      proc.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      proc.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      proc.stdin?.on('error', () => {});
      proc.stdin?.end(o.input);
      proc.once('error', (err) => resolve({ code: null, stdout, stderr: `${stderr}${err.message}` }));
      proc.once('close', (code) => resolve({ code, stdout, stderr }));
    });

  // `--wait` returns once boot is over: "running", or "degraded" (exit 1) if a unit failed.
  for (;;) {
    const state = await exec(['systemctl', 'is-system-running', '--wait'], {
      timeoutMs: Math.max(1000, deadline - Date.now()),
    });
    const status = state.stdout.trim();
    if (status === 'running' || status === 'degraded') break;
    if (Date.now() > deadline || child.exitCode !== null) {
      throw new Error(`${options.name} did not boot (${status || state.stderr.trim()}):\n${consoleText}`);
    }
    await sleep(100);
  }

  const host: SystemdHost = {
    name: options.name,
    address: options.address.split('/')[0] ?? options.address,
    pid,
    initPid,
    root,
    exec,
    async run(argv, o) {
      const result = await exec(argv, o);
      if (result.code !== 0) {
        throw new Error(
          `${options.name}: ${argv.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`,
        );
      }
      return result.stdout;
    },
    console: () => consoleText,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await releaseRoot(root, work);
    },
  };
  return host;
}

/** nspawn's child that runs systemd is the container's PID 1. */
function findInit(nspawnPid: number): number | undefined {
  const queue = [nspawnPid];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    let children: number[] = [];
    try {
      children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {
      continue;
    }
    for (const c of children) {
      try {
        if (readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'systemd') return c;
      } catch {}
      queue.push(c);
    }
  }
  return undefined;
}

function assertTestName(name: string): void {
  if (!/^pis[a-z0-9-]{0,12}$/.test(name)) {
    throw new Error(`test host/bridge name ${JSON.stringify(name)} must match pis[a-z0-9-]{0,12}`);
  }
}
