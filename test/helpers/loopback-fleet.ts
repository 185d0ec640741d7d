// Thousands of simulated hosts on one machine: one OpenSSH sshd listening on 0.0.0.0 answers on
// every 127.x.y.z address, so each "host" is its own loopback address with its own deploy_to.
// Logins go to a throwaway non-root user whose shell is /bin/sh (root's ~/.bashrc on these
// machines runs a slow pyenv set-up on every SSH command, which would swamp the figures). One
// wildcard known_hosts line covers every address. sshd is PID 1 of a PID namespace of its own,
// as a host's init is: it reaps the apps a deploy starts in the background as
// soon as they exit, where this machine's own PID 1 reaps only every 2 s or so. `cleanup()` is
// synchronous so a signal handler can run it: it ends the processes this fleet started, by
// PID, removes the user and the files.
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
  /** sshd, PID 1 of the hosts' PID namespace, as the controller sees it. */
  sshdPid: number;
  /** sshd processes below the listening one: connections still being served. */
  sessions(): number;
  /**
   * A file under /proc/<pid>/ of a process on the hosts, `pid` as the hosts see it (a pidfile's),
   * or undefined when there is no such process.
   */
  hostProc(pid: number, file: string): string | undefined;
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

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
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
  /** sshd as PID 1 of the hosts' namespace (unshare's child), as the controller sees it. */
  let init: number | undefined;
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
    // The hosts' PID 1 first: the kernel ends everything in its namespace with it (the apps,
    // sessions, a relay), then unshare.
    if (init !== undefined) kill(init);
    if (sshd?.pid !== undefined) kill(sshd.pid);
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
    try {
      mkdirSync(cgroup);
      cgroupMade = true;
    } catch {
      // no cpuacct hierarchy to write to: the hosts' CPU goes unmeasured
    }
    // The shell joins the cgroup before anything starts, so every process sshd forks is counted
    // there; unshare then runs sshd as PID 1 of a new PID namespace, with its own /proc.
    // Its own process group: Ctrl-C in the terminal reaches the bench, which stops sshd itself.
    sshd = spawn(
      '/bin/sh',
      [
        '-c',
        '[ -z "$1" ] || echo $$ > "$1"; shift; exec unshare "$@"',
        'sh',
        cgroupMade ? path.join(cgroup, 'cgroup.procs') : '',
        ...['--pid', '--fork', '--kill-child', '--mount', '--propagation', 'private', '--mount-proc'],
        ...['/usr/sbin/sshd', '-D', '-e', '-f', config],
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
    );
    sshd.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-8192);
    });
    const exited = new Promise<never>((_, reject) =>
      sshd?.once('exit', (code) => reject(new Error(`sshd exited (${code}): ${stderr.trim()}`))),
    );
    exited.catch(() => {});
    await Promise.race([waitForPort(port, 10_000, hostAddress(0)), exited]);
    init = descendants(sshd.pid as number)[0];
    if (init === undefined) throw new Error('sshd listens, but unshare has no child');
    const root = init;
    return {
      dir,
      user,
      uid,
      port,
      identity,
      knownHosts,
      hostKey: Buffer.from(keyBase64 as string, 'base64'),
      sshdPid: root,
      sessions: () => descendants(root).filter((pid) => commOf(pid) === 'sshd').length,
      hostProc: (pid, file) => {
        try {
          return readFileSync(`/proc/${root}/root/proc/${pid}/${file}`, 'utf8');
        } catch {
          return undefined;
        }
      },
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
