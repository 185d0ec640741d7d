// Thousands of simulated hosts on one machine: one OpenSSH sshd listening on 0.0.0.0 answers on
// every 127.x.y.z address, so each "host" is its own loopback address with its own deploy_to.
// Logins go to a throwaway non-root user whose shell is /bin/sh (root's ~/.bashrc on these
// machines runs a slow pyenv set-up on every SSH command, which would swamp the figures). One
// wildcard known_hosts line covers every address. `cleanup()` is synchronous so a signal handler
// can run it: it ends the processes this fleet started, by PID, removes the user and the files.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { waitForPort } from './net.js';

export interface SimHost {
  name: string;
  dc: string;
  address: string;
  deployTo: string;
}

export interface LoopbackFleet {
  dir: string;
  user: string;
  uid: number;
  port: number;
  identity: string;
  knownHosts: string;
  /** The host key blob (what ssh2's hostVerifier is given), for the floor's strict check. */
  hostKey: Buffer;
  sshdPid: number;
  /**
   * CPU time (ms) of sshd and everything it started (sessions, the commands they ran, apps that
   * daemonised), from the cpuacct cgroup sshd runs in: the "hosts'" side of a deploy. A process
   * sshd's session leaves behind is orphaned and reaped by PID 1, so sshd's own cutime would miss
   * most of it. NaN without a writable cgroup v1 cpuacct hierarchy.
   */
  sessionsCpuMs(): number;
  /** What sshd printed on stderr (LogLevel ERROR), the last 8 KiB. */
  sshdLog(): string;
  hosts: SimHost[];
  /** Ends every process of the bench user and sshd's own, by PID; removes the user and dir. */
  cleanup(): void;
}

const sh = (argv: string[]): string =>
  execFileSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** 127.1.Y.Z with Z in 1..250: no .0 or .255 host parts, 250 hosts per /24. */
export function hostAddress(index: number): string {
  return `127.1.${Math.floor(index / 250)}.${(index % 250) + 1}`;
}

/** Processes whose real uid is `uid`, from /proc (all of them are the bench's: the user is its own). */
function processesOf(uid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const real = /^Uid:\s+(\d+)/m.exec(status)?.[1];
      if (Number(real) === uid) pids.push(Number(entry));
    } catch {
      // ended while we looked
    }
  }
  return pids;
}

/** Every descendant of `root` (children before grandchildren), from /proc/<pid>/task/*\/children. */
export function descendants(root: number): number[] {
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    try {
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
        for (const child of text ? text.split(' ').map(Number) : []) {
          out.push(child);
          queue.push(child);
        }
      }
    } catch {
      // ended while we looked
    }
  }
  return out;
}

function cgroupProcs(cgroup: string): number[] {
  try {
    return readFileSync(path.join(cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function ownedBy(pid: number, uid: number): boolean {
  try {
    return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) === uid;
  } catch {
    return false;
  }
}

function kill(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Makes the user, keys, sshd and host list for `count` hosts spread over `dcs` (contiguous blocks,
 * in order). `port` must be free on 0.0.0.0. Must run as root (useradd, sshd).
 */
export async function createLoopbackFleet(
  dir: string,
  count: number,
  dcs: readonly string[],
  port: number,
  onCleanup: (cleanup: () => void) => void,
): Promise<LoopbackFleet> {
  const user = `pscale${randomBytes(3).toString('hex')}`;
  let sshd: ChildProcess | undefined;
  let userMade = false;
  let uid = -1;
  const hostsDir = path.join(dir, 'hosts');
  const hosts: SimHost[] = [];
  const perDc = Math.ceil(count / dcs.length);
  for (let i = 0; i < count; i++) {
    const name = `h${String(i + 1).padStart(4, '0')}`;
    hosts.push({
      name,
      dc: dcs[Math.floor(i / perDc)] as string,
      address: hostAddress(i),
      deployTo: path.join(hostsDir, name),
    });
  }

  const cgroup = `/sys/fs/cgroup/cpuacct/pier-scale-${user}`;
  let cgroupMade = false;
  let cleaned = false;
  const cleanup = (): void => {
    if (cleaned) return;
    cleaned = true;
    // The apps first, by the pid each host's start-stop-daemon recorded (and only if it is the
    // bench user's), then anything else still running as that user (sessions, a relay).
    if (uid >= 0) {
      for (const host of hosts) {
        const shared = path.join(host.deployTo, 'shared');
        let pidFiles: string[] = [];
        try {
          pidFiles = readdirSync(shared).filter((name) => name.endsWith('.pid'));
        } catch {
          // never started there
        }
        for (const file of pidFiles) {
          const pid = Number(readFileSync(path.join(shared, file), 'utf8').trim());
          if (pid > 0 && ownedBy(pid, uid)) kill(pid);
        }
      }
    }
    if (sshd?.pid !== undefined) {
      for (const pid of descendants(sshd.pid).reverse()) kill(pid);
      kill(sshd.pid);
    }
    // Whatever else sshd's sessions left running is still in its cgroup.
    if (cgroupMade) {
      for (let round = 0; round < 50; round++) {
        const left = cgroupProcs(cgroup);
        if (left.length === 0) break;
        for (const pid of left) kill(pid);
        sleepSync(100);
      }
      try {
        rmdirSync(cgroup);
      } catch (err) {
        process.stderr.write(`fleet-scale: rmdir ${cgroup} failed: ${(err as Error).message}\n`);
      }
    }
    if (uid >= 0) {
      for (let round = 0; round < 50; round++) {
        const left = processesOf(uid);
        if (left.length === 0) break;
        for (const pid of left) kill(pid);
        sleepSync(100);
      }
    }
    if (userMade) {
      try {
        sh(['userdel', user]);
      } catch (err) {
        process.stderr.write(`fleet-scale: userdel ${user} failed: ${(err as Error).message}\n`);
      }
      rmSync(`/var/mail/${user}`, { force: true });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  onCleanup(cleanup);

  try {
    // The user must reach its authorized_keys and deploy_to through this directory.
    chmodSync(dir, 0o755);
    const home = path.join(dir, 'home');
    mkdirSync(home);
    mkdirSync(hostsDir);
    sh(['useradd', '--no-create-home', '--home-dir', home, '--shell', '/bin/sh', '--user-group', user]);
    userMade = true;
    // useradd leaves the password field "!" (locked); sshd without PAM refuses locked accounts.
    sh(['usermod', '--password', '*', user]);
    uid = Number(sh(['id', '-u', user]).trim());
    const gid = Number(sh(['id', '-g', user]).trim());
    chownSync(home, uid, gid);
    chownSync(hostsDir, uid, gid);

    const identity = path.join(dir, 'id_ed25519');
    const hostKeyFile = path.join(dir, 'host_key');
    sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'pier-scale', '-f', identity]);
    sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', hostKeyFile]);
    const authorizedKeys = path.join(dir, 'authorized_keys');
    writeFileSync(authorizedKeys, readFileSync(`${identity}.pub`), { mode: 0o644 });
    const [keyType, keyBase64] = readFileSync(`${hostKeyFile}.pub`, 'utf8').split(' ');
    const knownHosts = path.join(dir, 'known_hosts');
    writeFileSync(knownHosts, `[127.*]:${port} ${keyType} ${keyBase64}\n`);

    const config = path.join(dir, 'sshd_config');
    writeFileSync(
      config,
      [
        `Port ${port}`,
        'ListenAddress 0.0.0.0',
        `HostKey ${hostKeyFile}`,
        `PidFile ${path.join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${authorizedKeys}`,
        `AllowUsers ${user}`,
        'PermitRootLogin no',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'UseDNS no',
        'PrintMotd no',
        'PrintLastLog no',
        // Raised well past the handshakes in flight (64): a refusal would be sshd's, not pier's.
        'MaxStartups 10000:30:20000',
        'MaxSessions 100',
        'LogLevel ERROR',
        '',
      ].join('\n'),
    );
    mkdirSync('/run/sshd', { recursive: true });
    let stderr = '';
    // Its own process group: Ctrl-C in the terminal reaches the bench, which stops sshd itself.
    sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    try {
      mkdirSync(cgroup);
      cgroupMade = true;
      // Before the first connection: every process sshd forks from now on is counted here.
      writeFileSync(path.join(cgroup, 'cgroup.procs'), String(sshd.pid));
    } catch {
      // no cpuacct hierarchy to write to: the hosts' CPU goes unmeasured
    }
    sshd.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-8192);
    });
    const exited = new Promise<never>((_, reject) =>
      sshd?.once('exit', (code) => reject(new Error(`sshd exited (${code}): ${stderr.trim()}`))),
    );
    exited.catch(() => {});
    await Promise.race([waitForPort(port, 10_000, hostAddress(0)), exited]);
    return {
      dir,
      user,
      uid,
      port,
      identity,
      knownHosts,
      hostKey: Buffer.from(keyBase64 as string, 'base64'),
      sshdPid: sshd.pid as number,
      sshdLog: () => stderr,
      sessionsCpuMs: () =>
        cgroupMade ? Number(readFileSync(path.join(cgroup, 'cpuacct.usage'), 'utf8')) / 1e6 : Number.NaN,
      hosts,
      cleanup,
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}
