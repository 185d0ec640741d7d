// Test hosts for the fleet deployer: a bridge plus one network namespace per host, a real sshd
// in each (own host key, root login with a test key, own PID namespace) and a private /opt per host (a directory
// of the test bind-mounted over /opt in the host's own mount namespace, or a tiny tmpfs for a
// "full disk" host) and a fresh /root. Everything is named pif* and removed by `cleanup()`, also after failures.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { waitForPort } from './net.js';

export interface TestHost {
  name: string;
  dc: string;
  address: string;
  namespace: string;
  /** This host's /opt, seen from the controller (undefined for a tmpfs /opt). */
  opt: string | undefined;
  dir: string;
  /** `unshare`, the parent of the host's init. */
  sshd: ChildProcess | undefined;
  /** The host's PID 1 (sshd), as seen from the controller. */
  initPid: number | undefined;
  fullDisk: boolean;
  localBin?: string | undefined;
  loginShell?: string | undefined;
  missing?: string[] | undefined;
}

export interface TestFleet {
  id: string;
  dir: string;
  bridge: string;
  gateway: string;
  hosts: TestHost[];
  identity: string;
  knownHosts: string;
  host(name: string): TestHost;
  /** Kills the host's sshd and with it everything running there (a host that went down). */
  stopSsh(name: string): Promise<void>;
  startSsh(name: string): Promise<void>;
  /** A new host key for the host (as after a reinstall); restarts its sshd. */
  rekey(name: string): Promise<string>;
  /** Runs a command inside the host's namespaces (network and mount, like a login would). */
  exec(name: string, argv: string[]): string;
  fleetYaml(extra?: {
    keepReleases?: number;
    /** Default `host`: the test machine's Node, shared by every test host. */
    runtime?: 'host' | 'bundled';
    rollout?: Record<string, unknown>;
    health?: Record<string, unknown>;
    ssh?: Record<string, unknown>;
    /** Merged over the test service (manager none, node server.mjs, PORT 8080). */
    service?: Record<string, unknown>;
    dcVars?: Record<string, Record<string, unknown>>;
  }): string;
  cleanup(): Promise<void>;
}

const sh = (argv: string[]): string =>
  execFileSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function freeSubnet(): number {
  const used = sh(['ip', '-o', '-4', 'addr', 'show']);
  for (let attempt = 0; attempt < 50; attempt++) {
    const third = 1 + Math.floor(Math.random() * 250);
    if (!used.includes(`10.77.${third}.`)) return third;
  }
  throw new Error('no free 10.77.X.0/24 subnet for the test hosts');
}

export async function createTestFleet(
  layout: Record<string, number>,
  options: {
    fullDisk?: string[];
    /** A directory of the test mounted over a host's /usr/local/bin (first on pier's PATH). */
    localBin?: Record<string, string>;
    /** root's login shell on a host (its own /etc/passwd is mounted over the machine's). */
    loginShell?: Record<string, string>;
    /** Programs a host lacks: a stub that says so (exit 127) is mounted over each path. */
    missing?: Record<string, string[]>;
    /** sshd_config lines of a host, ahead of the defaults (sshd takes a keyword's first value). */
    sshdConfig?: Record<string, string[]>;
  } = {},
): Promise<TestFleet> {
  const id = randomBytes(2).toString('hex');
  const dir = mkdtempSync(path.join(tmpdir(), 'pif-fleet-'));
  const bridge = `pifbr${id}`;
  const subnet = freeSubnet();
  const gateway = `10.77.${subnet}.1`;
  const hosts: TestHost[] = [];
  const fleet: TestFleet = {
    id,
    dir,
    bridge,
    gateway,
    hosts,
    identity: path.join(dir, 'id_ed25519'),
    knownHosts: path.join(dir, 'known_hosts'),
    host(name) {
      const host = hosts.find((h) => h.name === name);
      if (!host) throw new Error(`no test host ${name}`);
      return host;
    },
    async stopSsh(name) {
      const host = fleet.host(name);
      const child = host.sshd;
      host.sshd = undefined;
      host.initPid = undefined;
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
    },
    async startSsh(name) {
      await startSshd(fleet.host(name));
    },
    async rekey(name) {
      const host = fleet.host(name);
      await fleet.stopSsh(name);
      rmSync(path.join(host.dir, 'host_key'));
      rmSync(path.join(host.dir, 'host_key.pub'));
      sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', path.join(host.dir, 'host_key')]);
      await startSshd(host);
      return sh(['ssh-keygen', '-l', '-f', path.join(host.dir, 'host_key.pub')]).split(' ')[1] ?? '';
    },
    exec(name, argv) {
      const host = fleet.host(name);
      if (!host.initPid) throw new Error(`${name} is down`);
      return sh(['nsenter', '-t', String(host.initPid), '-a', ...argv]);
    },
    fleetYaml(extra = {}) {
      const json = (value: unknown) => JSON.stringify(value);
      const dcs = Object.keys(layout);
      return [
        'app: hello',
        'deploy_to: /opt/hello',
        `keep_releases: ${extra.keepReleases ?? 3}`,
        // The host's own Node (bound in from the test machine): small artifacts, fast tests.
        `runtime: ${extra.runtime ?? 'host'}`,
        `ssh: ${json({ user: 'root', identity: fleet.identity, known_hosts: fleet.knownHosts, connect_timeout: '3s', handshake_concurrency: 16, ...extra.ssh })}`,
        `service: ${json({ manager: 'none', command: ['node', 'server.mjs'], env: { PORT: '8080' }, stop_timeout: '2s', ...extra.service })}`,
        `health: ${json({ url: 'http://127.0.0.1:8080/health', status: 200, body: 'ok {version}', timeout: '4s', interval: '100ms', bake: 0, ...extra.health })}`,
        `rollout: ${json({ canary: 1, window: 2, failure_budget: 1, dc_order: dcs, stage_window: 10, ...extra.rollout })}`,
        'datacenters:',
        ...dcs.flatMap((dc) => [
          `  ${dc}:`,
          ...(extra.dcVars?.[dc] ? [`    vars: ${json(extra.dcVars[dc])}`] : []),
          '    hosts:',
          ...hosts
            .filter((h) => h.dc === dc)
            .map((h) => `      - ${json({ name: h.name, address: h.address })}`),
        ]),
        '',
      ].join('\n');
    },
    async cleanup() {
      for (const host of hosts) {
        await fleet.stopSsh(host.name).catch(() => {});
        // The apps the deploys started inside the host: every process left in its namespace.
        const pids = (() => {
          try {
            return sh(['ip', 'netns', 'pids', host.namespace]).split('\n').filter(Boolean);
          } catch {
            return [];
          }
        })();
        for (const pid of pids) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {}
        }
        try {
          sh(['ip', 'netns', 'del', host.namespace]);
        } catch {}
      }
      try {
        sh(['ip', 'link', 'del', bridge]);
      } catch {}
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    mkdirSync('/run/sshd', { recursive: true });
    sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'pier-test', '-f', fleet.identity]);
    writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(`${fleet.identity}.pub`));
    sh(['ip', 'link', 'add', bridge, 'type', 'bridge']);
    sh(['ip', 'addr', 'add', `${gateway}/24`, 'dev', bridge]);
    sh(['ip', 'link', 'set', bridge, 'up']);
    let index = 0;
    for (const [dc, count] of Object.entries(layout)) {
      for (let n = 1; n <= count; n++) {
        index++;
        const name = `${dc}-${n}`;
        const host: TestHost = {
          name,
          dc,
          address: `10.77.${subnet}.${10 + index}`,
          namespace: `pif-${id}-${name}`,
          opt: undefined,
          dir: path.join(dir, 'hosts', name),
          sshd: undefined,
          initPid: undefined,
          fullDisk: options.fullDisk?.includes(name) ?? false,
          localBin: options.localBin?.[name],
          loginShell: options.loginShell?.[name],
          missing: options.missing?.[name],
        };
        hosts.push(host);
        mkdirSync(host.dir, { recursive: true });
        if (!host.fullDisk) {
          host.opt = path.join(host.dir, 'opt');
          mkdirSync(host.opt);
        }
        const outside = `pif${id}h${index}`;
        const inside = `pif${id}p${index}`;
        sh(['ip', 'netns', 'add', host.namespace]);
        sh(['ip', 'link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
        sh(['ip', 'link', 'set', outside, 'master', bridge, 'up']);
        sh(['ip', 'link', 'set', inside, 'netns', host.namespace]);
        sh(['ip', '-n', host.namespace, 'link', 'set', inside, 'name', 'eth0']);
        sh(['ip', '-n', host.namespace, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0']);
        sh(['ip', '-n', host.namespace, 'link', 'set', 'eth0', 'up']);
        sh(['ip', '-n', host.namespace, 'link', 'set', 'lo', 'up']);
        sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', path.join(host.dir, 'host_key')]);
        writeFileSync(
          path.join(host.dir, 'sshd_config'),
          [
            'Port 22',
            'ListenAddress 0.0.0.0',
            `HostKey ${path.join(host.dir, 'host_key')}`,
            `PidFile ${path.join(host.dir, 'sshd.pid')}`,
            `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
            ...(options.sshdConfig?.[name] ?? []),
            'PermitRootLogin yes',
            'PasswordAuthentication no',
            'KbdInteractiveAuthentication no',
            'UsePAM no',
            'StrictModes no',
            'MaxStartups 200',
            'MaxSessions 100',
            'AllowTcpForwarding yes',
            'LogLevel ERROR',
            '',
          ].join('\n'),
        );
      }
    }
    await Promise.all(hosts.map((host) => startSshd(host)));
    // Known, on purpose, as hashed entries (|1|salt|hash) the way ssh-keygen -H writes them.
    writeFileSync(
      fleet.knownHosts,
      `${hosts
        .map(
          (h) =>
            `${h.name},${h.address} ${readFileSync(path.join(h.dir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ')}`,
        )
        .join('\n')}\n`,
    );
    sh(['ssh-keygen', '-q', '-H', '-f', fleet.knownHosts]);
    rmSync(`${fleet.knownHosts}.old`, { force: true });
  } catch (err) {
    await fleet.cleanup();
    throw err;
  }
  return fleet;
}

async function startSshd(host: TestHost): Promise<void> {
  const mountOpt = host.opt ? `mount --bind ${host.opt} /opt` : 'mount -t tmpfs -o size=48k pif-full /opt';
  // A fresh home for root, like a new server's: the controller's own ~/.bashrc stays out.
  const home = path.join(host.dir, 'root');
  mkdirSync(home, { recursive: true });
  const mounts = [`mount --bind ${home} /root`, mountOpt];
  if (host.localBin) mounts.push(`mount --bind ${host.localBin} /usr/local/bin`);
  for (const program of host.missing ?? []) {
    const stub = path.join(host.dir, `missing-${path.basename(program)}`);
    writeFileSync(stub, `#!/bin/sh\necho "${program}: not installed on this host" >&2\nexit 127\n`, {
      mode: 0o755,
    });
    mounts.push(`mount --bind ${stub} ${program}`);
  }
  if (host.loginShell) {
    const passwd = readFileSync('/etc/passwd', 'utf8').replace(
      /^(root:[^\n]*:)[^:\n]*$/m,
      `$1${host.loginShell}`,
    );
    writeFileSync(path.join(host.dir, 'passwd'), passwd);
    mounts.push(`mount --bind ${path.join(host.dir, 'passwd')} /etc/passwd`);
  }
  const child = spawn(
    'ip',
    [
      // Own PID namespace too, with sshd as its init: orphans (the daemonised app) are reaped at
      // once, as on a real host, and killing the host's sshd takes the whole host down.
      ...['netns', 'exec', host.namespace, 'unshare', '--mount', '--propagation', 'private'],
      ...['--pid', '--fork', '--kill-child', '--mount-proc'],
      ...[
        'sh',
        '-c',
        `${mounts.join(' && ')} && exec /usr/sbin/sshd -D -e -f ${path.join(host.dir, 'sshd_config')}`,
      ],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  host.sshd = child;
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) =>
      reject(new Error(`sshd on ${host.name} exited (${code}): ${stderr.trim()}`)),
    ),
  );
  exited.catch(() => {});
  await Promise.race([waitForPort(22, 5000, host.address), exited]);
  const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim();
  host.initPid = Number(children.split(' ')[0]);
}

/** The names the tests use for their hosts' bridge and namespaces, for a leak check. */
export function leftovers(fleet: TestFleet): string[] {
  const links = sh(['ip', '-o', 'link', 'show']);
  const namespaces = sh(['ip', 'netns', 'list']);
  return [
    ...(links.includes(fleet.bridge) ? [fleet.bridge] : []),
    ...fleet.hosts.filter((h) => namespaces.includes(h.namespace)).map((h) => h.namespace),
    ...(existsSync(fleet.dir) ? [fleet.dir] : []),
  ];
}
