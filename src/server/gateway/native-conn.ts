// GatewayConn on pier's native transport (native/gateway_io.c): connections accepted, read and
// written in C on plain file descriptors, polled through one epoll instance in the worker's
// event loop. JavaScript runs once per event (a connection, its bytes, its end) and a whole
// response is one synchronous call, so a uwsgi request behind nginx costs a fraction of what a
// libuv handle per connection does.
//
// The addon is built at install time (binding.gyp, Linux only). Where it is missing,
// `nativeIo()` answers null and the front-end drives libuv's handles instead (raw-conn.ts).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { type ConnHandlers, DrainWaiters, type GatewayConn, lingerMs, resetDelayMs } from './conn.js';

interface GatewayIoAddon {
  /** Starts the transport; returns the shared read buffer (0 when already started). */
  start(
    onEvent: (kind: number, fd: number, gen: number, arg: number, arg2: number) => void,
  ): ArrayBuffer | number;
  listen(fd: number, backlog: number): number;
  unlisten(index: number): number;
  /**
   * Bytes still queued after the call (0: all sent), or -errno. With `more`, the kernel may hold
   * the bytes back for what follows: a close right after sends them and the FIN in one segment.
   */
  write(fd: number, gen: number, data: Uint8Array, more: boolean): number;
  pause(fd: number, gen: number, paused: boolean): number;
  shutdown(fd: number, gen: number): number;
  close(fd: number, gen: number, reset: boolean): number;
  noDelay(fd: number, gen: number): number;
  /** [address, port] for TCP, [] for a unix socket, undefined once the connection is gone. */
  peer(fd: number, gen: number): [string, number] | [] | undefined;
  /** A TCP socket bound to address:port with SO_REUSEPORT, not listening: its fd, or -errno. */
  reusePortSocket(address: string, port: number): number;
}

// The event kinds native/gateway_io.c sends.
const Accepted = 0;
const Data = 1;
const End = 2;
const Closed = 3;
const Drained = 4;
const AcceptError = 5;

const addonFile = 'build/Release/gateway_io.node';

/** Where the built addon is: the package root is a few levels above this module (src or dist). */
function nativeAddonPath(): string | undefined {
  let dir = new URL('.', import.meta.url);
  for (let up = 0; up < 5; up++) {
    const candidate = fileURLToPath(new URL(addonFile, dir));
    if (existsSync(candidate)) return candidate;
    dir = new URL('..', dir);
  }
  return undefined;
}

interface Acceptor {
  onConnection(conn: GatewayConn): void;
  onError(errno: number): void;
}

// Live connections by fd, listeners by the addon's index.
const conns: Array<NativeConn | undefined> = [];
const acceptors: Array<Acceptor | undefined> = [];
// Where the addon reads to; an event's bytes are valid there until the next event.
let readBuffer = Buffer.alloc(0);

/** The `count` bytes just read, copied out of the shared read buffer. */
function justRead(count: number): Buffer {
  const bytes = Buffer.allocUnsafe(count);
  readBuffer.copy(bytes, 0, 0, count);
  return bytes;
}

function onEvent(kind: number, fd: number, gen: number, arg: number, arg2: number): void {
  if (kind === Accepted) {
    // biome-ignore lint/style/noNonNullAssertion: set once the addon has started (see nativeIo)
    const conn = new NativeConn(addon!, fd, gen, arg2 > 0 ? justRead(arg2) : undefined);
    conns[fd] = conn;
    const acceptor = acceptors[arg];
    if (acceptor) acceptor.onConnection(conn);
    else conn.destroy();
    return;
  }
  if (kind === AcceptError) {
    acceptors[gen]?.onError(arg);
    return;
  }
  const conn = conns[fd];
  if (!conn || conn.gen !== gen) return;
  if (kind === Data) conn.onData(justRead(arg));
  else if (kind === End) conn.onEnd();
  else if (kind === Drained) conn.onDrained();
  else if (kind === Closed) conn.onGone();
}

let loaded: GatewayIoAddon | null | undefined;

/** The built addon, loaded but not started (the master binds sockets with it); null when not built. */
export function nativeAddon(): GatewayIoAddon | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const file = nativeAddonPath();
  if (!file) return loaded;
  try {
    loaded = createRequire(import.meta.url)(file) as GatewayIoAddon;
  } catch {
    // Built for another Node, or not for this system: the JavaScript transports remain.
  }
  return loaded;
}

let addon: GatewayIoAddon | null | undefined;

/** The native transport, started in this thread's event loop; null when it is not built. */
export function nativeIo(): GatewayIoAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  const module = nativeAddon();
  if (!module) return addon;
  try {
    const shared = module.start(onEvent);
    if (shared instanceof ArrayBuffer) {
      readBuffer = Buffer.from(shared);
      addon = module;
    }
  } catch {
    // Not for this system after all: the JavaScript transports remain.
  }
  return addon;
}

// Past this many bytes queued in the addon, write() asks the caller to wait.
const highWaterMark = 64 * 1024;

class NativeConn implements GatewayConn {
  private handlers: ConnHandlers | undefined;
  // open → finishing (no more writes; closes once flushed) → closed
  private state: 'open' | 'finishing' | 'closed' = 'open';
  private lingering = false;
  private peerEnded = false;
  private reported = false; // handlers.close() has run
  private queued = 0; // bytes the addon still holds
  private waiters: DrainWaiters | undefined; // made on the first wait: most connections never wait
  private lingerTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly io: GatewayIoAddon,
    readonly fd: number,
    readonly gen: number,
    // Bytes read with the accept, delivered by start().
    private initial: Buffer | undefined,
  ) {}

  get closed(): boolean {
    return this.state !== 'open';
  }

  peer(): { address: string | undefined; port: number | undefined } {
    const [address, port] = this.io.peer(this.fd, this.gen) ?? [];
    return { address, port };
  }

  /** Delivers the bytes read with the accept at once: a whole request may be served before start() returns. */
  start(handlers: ConnHandlers): void {
    this.handlers = handlers;
    const initial = this.initial;
    this.initial = undefined;
    if (initial) handlers.data(initial);
  }

  pause(): void {
    if (this.state === 'open') this.io.pause(this.fd, this.gen, true);
  }

  resume(): void {
    if (this.state === 'open') this.io.pause(this.fd, this.gen, false);
  }

  write(data: Uint8Array): boolean {
    if (this.state !== 'open') return true;
    const queued = this.io.write(this.fd, this.gen, data, false);
    if (queued < 0) {
      this.destroy();
      return true;
    }
    this.queued = queued;
    return queued < highWaterMark;
  }

  drained(): Promise<void> {
    if (this.state === 'closed' || this.queued === 0) return Promise.resolve();
    this.waiters ??= new DrainWaiters();
    return this.waiters.wait();
  }

  noDelay(): void {
    this.io.noDelay(this.fd, this.gen);
  }

  finish(linger: boolean, last?: Uint8Array): void {
    if (this.state !== 'open') return;
    if (last) {
      // A response written whole, then the close: one segment carries both to the peer (one
      // delivery and one wakeup on its side instead of two).
      const queued = this.io.write(this.fd, this.gen, last, !linger && this.queued === 0);
      if (queued < 0) {
        this.destroy();
        return;
      }
      this.queued = queued;
    }
    this.state = 'finishing';
    this.lingering = linger;
    if (this.queued === 0) this.afterFlush();
  }

  reset(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.lingerTimer);
    this.io.pause(this.fd, this.gen, true);
    setTimeout(() => {
      this.io.close(this.fd, this.gen, true);
      this.onGone();
    }, resetDelayMs);
  }

  destroy(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.io.close(this.fd, this.gen, false);
    this.onGone();
  }

  onData(chunk: Buffer): void {
    if (!this.lingering) this.handlers?.data(chunk);
  }

  onEnd(): void {
    this.peerEnded = true;
    if (this.lingering) this.destroy();
    else this.handlers?.end();
  }

  onDrained(): void {
    this.queued = 0;
    this.afterFlush();
  }

  /** The connection is closed (by us, or by the addon after an error): report it once. */
  onGone(): void {
    this.state = 'closed';
    clearTimeout(this.lingerTimer);
    if (conns[this.fd] === this) conns[this.fd] = undefined;
    this.waiters?.wake();
    if (this.reported) return;
    this.reported = true;
    this.handlers?.close();
  }

  private afterFlush(): void {
    this.waiters?.wake();
    if (this.state !== 'finishing') return;
    // A peer that has already ended its side sends nothing more: nothing to wait for.
    if (!this.lingering || this.peerEnded || this.io.shutdown(this.fd, this.gen) !== 0) {
      this.destroy();
      return;
    }
    this.lingerTimer = setTimeout(() => this.destroy(), lingerMs);
    this.lingerTimer.unref();
  }
}

/**
 * Accepts on the listening socket `fd` (shared with the other workers), handing each connection
 * to `onConnection`. Returns a function that stops accepting (the caller then closes the fd), or
 * a negative errno when the socket cannot be listened on.
 */
export function acceptNative(
  io: GatewayIoAddon,
  fd: number,
  backlog: number,
  onConnection: (conn: GatewayConn) => void,
  onError: (errno: number) => void,
): (() => void) | number {
  const index = io.listen(fd, backlog);
  if (index < 0) return index;
  acceptors[index] = { onConnection, onError };
  return () => {
    io.unlisten(index);
    acceptors[index] = undefined;
  };
}
