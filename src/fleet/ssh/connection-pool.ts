// SSH connections to the fleet: one per host, opened on first use and reused for every step,
// handshakes bounded (a controller opening 5,000 at once would time most of them out), host
// keys checked strictly against known_hosts (ssh2 accepts any key unless told otherwise), jump
// hosts shared by the hosts behind them. Idle connections beyond `maxOpen` are closed.
// `connect_timeout` bounds every hop: a host behind a jump host gets the same time for the
// tunnel to open and the handshake over it as a direct host gets for TCP plus handshake.
import { readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { Client, type ConnectConfig } from 'ssh2';
import type { Host, Jump } from '../inventory/inventory.js';
import { Limiter } from '../limiter.js';
import { Connection } from './connection.js';
import { HostError } from './errors.js';
import { lookupName, preferredAlgorithms, verifyHostKey } from './known-hosts.js';
import type { KnownHostsIndex } from './known-hosts-index.js';

export interface PoolOptions {
  user: string;
  /** Private key (file contents). */
  privateKey: Buffer | undefined;
  /** $SSH_AUTH_SOCK, when agent auth is allowed. */
  agent: string | undefined;
  /** known_hosts, indexed once; `expect` tells it the names this run will check. */
  knownHosts: KnownHostsIndex;
  knownHostsFile: string;
  strictHostKeys: boolean;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  handshakeConcurrency: number;
  maxOpen: number;
}

/** Where a connection goes: an inventory host or a jump host. */
interface Target {
  key: string;
  names: string[];
  address: string;
  port: number;
  user: string;
  jump: Jump | undefined;
}

const allHostKeyAlgorithms = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

export class ConnectionPool {
  private readonly open = new Map<string, Promise<Connection>>();
  private readonly idle = new Set<string>();
  private readonly handshakes: Limiter;
  /** Callers waiting for a slot under `maxOpen` (woken when a connection goes idle or closes). */
  private readonly waiting: Array<() => void> = [];
  private readonly pinned = new Set<string>();
  private closing = 0;
  /** The most connections open (or opening) at once during this run. */
  peakOpen = 0;

  constructor(private readonly options: PoolOptions) {
    this.handshakes = new Limiter(options.handshakeConcurrency);
  }

  /** The host's connection, opened if needed. Fails with a HostError naming the cause. */
  connection(host: Host): Promise<Connection> {
    return this.get(this.targetOf(host));
  }

  /**
   * The hosts this run will connect to: their known_hosts entries (and their jump hosts') are
   * resolved in one pass before the first handshake, not one scan of the file per host.
   */
  expect(hosts: readonly Host[]): void {
    this.options.knownHosts.expect(
      hosts.flatMap((host) => {
        const { names, jump } = this.targetOf(host);
        return jump ? [...names, lookupName(jump.host, jump.port)] : names;
      }),
    );
  }

  /** The key the host presents, without authenticating (for `pier trust`). */
  async scanHostKey(host: Host): Promise<Buffer> {
    const target = this.targetOf(host);
    let sock: Duplex | undefined;
    let deadline = Date.now() + this.options.connectTimeoutMs;
    if (target.jump) {
      const via = await this.jumpConnection(target);
      deadline = Date.now() + this.options.connectTimeoutMs;
      sock = await this.tunnel(target, via, deadline);
    }
    return new Promise((resolve, reject) => {
      const client = new Client();
      let key: Buffer | undefined;
      const finish = () =>
        key ? resolve(key) : reject(new HostError('FLEET_SSH_CONNECT', 'no host key received'));
      client.on('error', (err: Error & { code?: string }) => {
        if (key) finish();
        else
          reject(
            new HostError('FLEET_SSH_CONNECT', `cannot connect: ${connectProblem(err)}`, { cause: err }),
          );
        client.end();
      });
      client.once('close', finish);
      client.connect({
        host: target.address,
        port: target.port,
        username: target.user,
        readyTimeout: Math.max(1, deadline - Date.now()),
        ...(sock ? { sock } : {}),
        hostVerifier: (presented: Buffer) => {
          key = presented;
          return false;
        },
      });
    });
  }

  /** The names a host's key is recorded under in known_hosts. */
  namesOf(host: Host): string[] {
    return this.targetOf(host).names;
  }

  private targetOf(host: Host): Target {
    return {
      key: `${host.user}@${host.address}:${host.port}`,
      names: [...new Set([lookupName(host.name, host.port), lookupName(host.address, host.port)])],
      address: host.address,
      port: host.port,
      user: host.user,
      jump: host.proxyJump,
    };
  }

  /**
   * The host is between steps: its connection stays open for the next one unless a host
   * waiting for a slot needs it (then the most recently released goes first, see newestIdle).
   */
  release(host: Host): void {
    const key = `${host.user}@${host.address}:${host.port}`;
    if (!this.open.has(key) || this.pinned.has(key)) return;
    this.idle.delete(key);
    this.idle.add(key);
    this.wake();
  }

  /**
   * The host is done with this run (healthy, its lock released): like `release`, but under
   * pressure its connection is the first to close, before those of hosts still between steps.
   */
  retire(host: Host): void {
    const key = `${host.user}@${host.address}:${host.port}`;
    if (this.open.has(key) && !this.pinned.has(key)) this.retired.add(key);
    this.release(host);
  }

  private readonly retired = new Set<string>();

  /** Keeps the host's connection open whatever the pressure (a relay serving its data center). */
  pin(host: Host): void {
    const key = `${host.user}@${host.address}:${host.port}`;
    this.pinned.add(key);
    this.idle.delete(key);
  }

  unpin(host: Host): void {
    this.pinned.delete(`${host.user}@${host.address}:${host.port}`);
    this.release(host);
  }

  /** Connections open, opening, or closed for a waiter but not yet gone (their socket counts). */
  private get used(): number {
    return this.open.size + this.closing;
  }

  /**
   * Free slots go to waiters in arrival order (each takes its slot in `get`); for the waiters
   * left, idle connections are closed, and each frees its slot once its socket is gone.
   */
  private wake(): void {
    let free = this.options.maxOpen - this.used;
    while (this.waiting.length > 0 && free > 0) {
      this.waiting.shift()?.();
      free--;
    }
    let short = this.waiting.length - this.closing;
    while (short > 0) {
      const newest = this.newestIdle();
      if (newest === undefined) return;
      this.closeIdle(newest);
      short--;
    }
  }

  /**
   * The idle connection to close for a waiting host: a retired one (its host is done), else the
   * one released last. Hosts go through
   * the phases in the plan's order (lock, stage, activate), so the ones released first are the
   * ones the next phase needs first; closing the newest keeps them (least recently released
   * would close exactly those, and every phase would reconnect everything beyond the cap).
   */
  private newestIdle(): string | undefined {
    for (const key of this.retired) {
      this.retired.delete(key);
      if (this.idle.has(key)) return key;
    }
    let newest: string | undefined;
    for (const key of this.idle) newest = key;
    return newest;
  }

  private closeIdle(key: string): void {
    const pending = this.open.get(key);
    this.open.delete(key);
    this.idle.delete(key);
    if (!pending) return;
    this.closing++;
    let done = false;
    const gone = (): void => {
      if (done) return;
      done = true;
      this.closing--;
      this.wake();
    };
    pending.then((connection) => {
      if (!connection.isOpen) return gone();
      connection.client.once('close', gone);
      connection.close();
    }, gone);
  }

  async closeAll(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    this.idle.clear();
    for (const wake of this.waiting.splice(0)) wake();
    await Promise.all(all.map((pending) => pending.then((connection) => connection.close()).catch(() => {})));
  }

  private get(target: Target): Promise<Connection> {
    this.idle.delete(target.key);
    this.retired.delete(target.key);
    const existing = this.open.get(target.key);
    if (existing) return existing;
    if (this.used >= this.options.maxOpen) {
      // Never over the cap, even for a moment: wait for a slot (an idle one is closed for it).
      const waited = this.afterSlot().then(() => this.get(target));
      this.wake();
      return waited;
    }
    const pending = this.connect(target);
    this.open.set(target.key, pending);
    this.peakOpen = Math.max(this.peakOpen, this.used);
    pending.then(
      (connection) => {
        // A connection that drops (host down, idle close) frees its slot at once.
        connection.client.once('close', () => this.forget(target.key, pending));
        if (!connection.isOpen) this.forget(target.key, pending);
      },
      () => this.forget(target.key, pending),
    );
    return pending;
  }

  private forget(key: string, pending: Promise<Connection>): void {
    if (this.open.get(key) === pending) this.open.delete(key);
    this.idle.delete(key);
    this.retired.delete(key);
    this.wake();
  }

  private afterSlot(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private async connect(target: Target): Promise<Connection> {
    await this.options.knownHosts.resolve(target.names);
    if (!target.jump)
      return this.handshakes.run(() => this.handshake(target, undefined, this.options.connectTimeoutMs));
    // The jump host's own connection is opened (and bounded) outside this host's handshake slot:
    // inside it, a full limiter could wait on itself.
    const via = await this.jumpConnection(target);
    return this.handshakes.run(async () => {
      const deadline = Date.now() + this.options.connectTimeoutMs;
      const sock = await this.tunnel(target, via, deadline);
      return this.handshake(target, sock, deadline - Date.now());
    });
  }

  private jumpTarget(jump: Jump): Target {
    return {
      key: `${jump.user}@${jump.host}:${jump.port}`,
      names: [lookupName(jump.host, jump.port)],
      address: jump.host,
      port: jump.port,
      user: jump.user,
      jump: undefined,
    };
  }

  private async jumpConnection(target: Target): Promise<Connection> {
    const jump = target.jump as Jump;
    try {
      return await this.get(this.jumpTarget(jump));
    } catch (err) {
      throw new HostError('FLEET_SSH_JUMP', `jump host ${jump.host}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /**
   * A TCP stream to the target opened from its jump host (OpenSSH's ProxyJump), by `deadline`
   * (ms since the epoch). The jump host's own connect() to a black-holed address would otherwise
   * last its SYN retries (about 130 s on Linux); SSH cannot cancel a channel being opened, so a
   * channel that opens after the deadline is closed on arrival.
   */
  private tunnel(target: Target, via: Connection, deadline: number): Promise<Duplex> {
    const jump = target.jump as Jump;
    return new Promise((resolve, reject) => {
      let late = false;
      const timer = setTimeout(
        () => {
          late = true;
          reject(
            new HostError(
              'FLEET_SSH_JUMP',
              `timed out after ${seconds(this.options.connectTimeoutMs)} connecting through jump host ${jump.host}`,
              {
                hint: 'the jump host cannot reach this host (down, firewalled, or a wrong address); ssh.connect_timeout bounds each hop',
              },
            ),
          );
        },
        Math.max(0, deadline - Date.now()),
      );
      via.client.forwardOut('127.0.0.1', 0, target.address, target.port, (err, stream) => {
        if (late) {
          stream?.close();
          return;
        }
        clearTimeout(timer);
        if (err)
          reject(
            new HostError(
              'FLEET_SSH_JUMP',
              `jump host ${jump.host} cannot reach ${target.address}:${target.port}: ${err.message}`,
            ),
          );
        else resolve(stream);
      });
    });
  }

  /** `timeoutMs`: what is left of `connect_timeout` for TCP (when direct) and the handshake. */
  private handshake(target: Target, sock: Duplex | undefined, timeoutMs: number): Promise<Connection> {
    const { options } = this;
    let rejectedKey: HostError | undefined;
    const config: ConnectConfig = {
      host: target.address,
      port: target.port,
      username: target.user,
      readyTimeout: Math.max(1, timeoutMs),
      keepaliveInterval: 15_000,
      algorithms: {
        serverHostKey: preferredAlgorithms(options.knownHosts, target.names, allHostKeyAlgorithms) as never,
      },
      hostVerifier: (key: Buffer) => {
        if (!options.strictHostKeys) return true;
        const verdict = verifyHostKey(options.knownHosts, target.names, key);
        if (verdict.ok) return true;
        rejectedKey = hostKeyError(verdict, target, options.knownHostsFile);
        return false;
      },
    };
    if (sock) config.sock = sock;
    if (options.privateKey) config.privateKey = options.privateKey;
    if (options.agent) config.agent = options.agent;
    return new Promise((resolve, reject) => {
      const client = new Client();
      let settled = false;
      client.once('ready', () => {
        settled = true;
        resolve(new Connection(client, options.commandTimeoutMs));
      });
      let closed = false;
      client.on('error', (err: Error & { level?: string }) => {
        if (settled) return;
        settled = true;
        let failure: HostError;
        if (rejectedKey) failure = rejectedKey;
        else if (err.level === 'client-authentication') {
          failure = new HostError('FLEET_SSH_AUTH', `authentication as ${target.user} failed`, {
            hint: 'check ssh.user and ssh.identity, or load the key into ssh-agent',
          });
        } else {
          failure = new HostError('FLEET_SSH_CONNECT', `cannot connect: ${connectProblem(err)}`, {
            cause: err,
          });
        }
        // The slot is freed when this settles: only once the socket is gone, so `max_open`
        // bounds the sockets themselves (a timed-out handshake's socket would still count).
        if (closed) reject(failure);
        else {
          client.once('close', () => reject(failure));
          client.destroy();
        }
      });
      client.once('close', () => {
        closed = true;
        if (settled) return;
        settled = true;
        reject(rejectedKey ?? new HostError('FLEET_SSH_CONNECT', 'connection closed during the handshake'));
      });
      client.connect(config);
    });
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** Socket errors without the address in them, so the same problem on many hosts groups as one. */
function connectProblem(err: Error & { code?: string }): string {
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ETIMEDOUT: 'timed out',
    EHOSTUNREACH: 'no route to host',
    ENETUNREACH: 'network unreachable',
    ENOTFOUND: 'host name not found',
    EAI_AGAIN: 'host name lookup failed',
    ECONNRESET: 'connection reset',
  };
  if (err.code && known[err.code]) return `${known[err.code]} (${err.code})`;
  if (/timed out/i.test(err.message)) return 'timed out during the handshake';
  return err.message;
}

function hostKeyError(
  verdict: Exclude<ReturnType<typeof verifyHostKey>, { ok: true }>,
  target: Target,
  file: string,
): HostError {
  const shown = `${verdict.keyType} ${verdict.fingerprint}`;
  if (verdict.reason === 'changed') {
    return new HostError(
      'FLEET_HOST_KEY_CHANGED',
      `host key changed: the host presented ${shown}, known_hosts has ${verdict.known.join(', ')}`,
      {
        hint: `if the host was really reinstalled, check the fingerprint out of band and run: pier trust --replace ${target.names[0]}`,
      },
    );
  }
  if (verdict.reason === 'revoked') {
    return new HostError('FLEET_HOST_KEY_REVOKED', `host key ${shown} is marked @revoked in ${file}`);
  }
  return new HostError('FLEET_HOST_KEY_UNKNOWN', `unknown host key ${shown} (not in ${file})`, {
    hint: `check the fingerprint, then run: pier trust ${target.names[0]}`,
  });
}

/** Reads the files the pool needs; missing known_hosts means "nothing known yet". */
export async function readSshFiles(
  identity: string | undefined,
  knownHostsFile: string,
): Promise<{ privateKey: Buffer | undefined; knownHostsText: string }> {
  let privateKey: Buffer | undefined;
  if (identity) {
    try {
      privateKey = await readFile(identity);
    } catch (err) {
      throw new HostError(
        'FLEET_SSH_IDENTITY',
        `cannot read the identity file ${identity}: ${(err as Error).message}`,
        {
          hint: 'set ssh.identity in fleet.yml or pass --identity',
        },
      );
    }
  }
  const knownHostsText = await readFile(knownHostsFile, 'utf8').catch(() => '');
  return { privateKey, knownHostsText };
}
