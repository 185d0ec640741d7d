// GatewayConn on libuv's own stream handles, without a net.Socket. nginx opens a new uwsgi
// connection for every request, so the per-connection cost of a net.Socket (a Duplex stream,
// its two states, event emitters and ticks) is paid at the full request rate; with the handle
// driven directly an accepted connection costs a callback, a read and a write.
//
// The handles and their read/write requests are the same ones net.Socket drives (Node's
// stream_wrap binding: onread with the byte count in streamBaseState, WriteWrap/ShutdownWrap
// requests). Node exposes them through process.binding; where that is missing or changed,
// `rawStreams()` answers null and the front-end uses net.Socket instead.
import { type ConnHandlers, DrainWaiters, type GatewayConn, lingerMs, resetDelayMs } from './conn.js';

const owner = Symbol('pier.rawConn');

interface Req {
  handle?: unknown;
  oncomplete?: (this: Req, status: number) => void;
  buffer?: Uint8Array | null;
  conn?: RawConn;
}

/** The stream handle of an accepted connection (TCP or Pipe wrap). */
export interface StreamHandle {
  readonly fd: number;
  readonly writeQueueSize: number;
  onread: (this: StreamHandle, arrayBuffer: ArrayBuffer | undefined) => void;
  [owner]?: RawConn;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: Req, data: Uint8Array): number;
  shutdown(req: Req): number;
  close(callback?: () => void): void;
  reset?(callback?: () => void): number;
  getpeername?(out: { address?: string; port?: number }): number;
  getsockname?(out: { address?: string; port?: number }): number;
  setNoDelay?(on: boolean): number;
}

/** A listening TCP or Pipe wrap, as the master hands it to the workers. */
export interface ListenHandle {
  readonly fd?: number;
  onconnection: (status: number, client: StreamHandle | undefined) => void;
  listen(backlog: number): number;
  close(callback?: () => void): void;
  getsockname?(out: { address?: string; port?: number }): number;
}

export interface RawStreams {
  WriteWrap: new () => Req;
  ShutdownWrap: new () => Req;
  state: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
  eof: number;
}

let cached: RawStreams | null | undefined;

/** The stream bindings, or null when this Node does not offer them in the expected shape. */
export function rawStreams(): RawStreams | null {
  if (cached !== undefined) return cached;
  cached = null;
  try {
    const binding = (process as unknown as { binding?: (name: string) => Record<string, unknown> }).binding;
    if (typeof binding !== 'function') return cached;
    const stream = binding('stream_wrap');
    const uv = binding('uv');
    const { WriteWrap, ShutdownWrap, streamBaseState } = stream;
    const indexes = [stream.kReadBytesOrError, stream.kArrayBufferOffset, stream.kLastWriteWasAsync];
    if (
      typeof WriteWrap === 'function' &&
      typeof ShutdownWrap === 'function' &&
      streamBaseState instanceof Int32Array &&
      indexes.every((index) => typeof index === 'number') &&
      typeof uv.UV_EOF === 'number'
    ) {
      cached = {
        WriteWrap: WriteWrap as RawStreams['WriteWrap'],
        ShutdownWrap: ShutdownWrap as RawStreams['ShutdownWrap'],
        state: streamBaseState,
        kReadBytesOrError: indexes[0] as number,
        kArrayBufferOffset: indexes[1] as number,
        kLastWriteWasAsync: indexes[2] as number,
        eof: uv.UV_EOF,
      };
    }
  } catch {
    // No bindings: the portable path it is.
  }
  return cached;
}

/** Whether `handle` is a listening handle this module can drive. */
export function isListenHandle(handle: unknown): handle is ListenHandle {
  const h = handle as Partial<ListenHandle> | null;
  return typeof h?.listen === 'function' && typeof h.close === 'function';
}

// Past this many unsent bytes in the kernel's way, write() asks the caller to wait.
const highWaterMark = 64 * 1024;
const noop = (): void => {};

// libuv calls these with the handle or the request as `this`: one function for every
// connection instead of a closure per connection.
function onRead(this: StreamHandle, arrayBuffer: ArrayBuffer | undefined): void {
  this[owner]?.onRead(arrayBuffer);
}

function onWriteComplete(this: Req, status: number): void {
  this.conn?.onWriteComplete(status);
}

/** A GatewayConn on a libuv stream handle (a class: one shape, no closures per connection). */
class RawConn implements GatewayConn {
  private handlers: ConnHandlers | undefined;
  // open → finishing (no more writes; closes once flushed) → closed
  private state: 'open' | 'finishing' | 'closed' = 'open';
  private lingering = false;
  private peerEnded = false;
  private inFlight = 0; // writes libuv has not completed yet
  private waiters: DrainWaiters | undefined; // made on the first wait: most connections never wait
  private lingerTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly handle: StreamHandle,
    private readonly io: RawStreams,
  ) {
    handle[owner] = this;
    handle.onread = onRead;
  }

  get fd(): number {
    return this.handle.fd;
  }

  get closed(): boolean {
    return this.state !== 'open';
  }

  peer(): { address: string | undefined; port: number | undefined } {
    const out: { address?: string; port?: number } = {};
    this.handle.getpeername?.(out);
    return { address: out.address, port: out.port };
  }

  start(handlers: ConnHandlers): void {
    this.handlers = handlers;
    if (this.handle.readStart() !== 0) this.destroy();
  }

  pause(): void {
    if (this.state === 'open') this.handle.readStop();
  }

  resume(): void {
    if (this.state === 'open') this.handle.readStart();
  }

  write(data: Uint8Array): boolean {
    if (this.state !== 'open') return true;
    const { handle, io } = this;
    const req = new io.WriteWrap();
    req.handle = handle;
    req.conn = this;
    req.oncomplete = onWriteComplete;
    if (handle.writeBuffer(req, data) !== 0) {
      this.destroy();
      return true;
    }
    if (io.state[io.kLastWriteWasAsync]) {
      req.buffer = data; // libuv still reads it
      this.inFlight++;
    }
    return handle.writeQueueSize < highWaterMark;
  }

  drained(): Promise<void> {
    if (this.state === 'closed' || this.inFlight === 0) return Promise.resolve();
    this.waiters ??= new DrainWaiters();
    return this.waiters.wait();
  }

  noDelay(): void {
    this.handle.setNoDelay?.(true);
  }

  finish(linger: boolean, last?: Uint8Array): void {
    if (this.state !== 'open') return;
    if (last) this.write(last);
    if (this.state !== 'open') return;
    this.state = 'finishing';
    this.lingering = linger;
    if (this.inFlight === 0) this.afterFlush();
  }

  reset(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.lingerTimer);
    const { handle } = this;
    handle.onread = noop;
    handle.readStop();
    setTimeout(() => {
      if (handle.reset?.(() => this.onClosed()) !== 0) handle.close(() => this.onClosed());
    }, resetDelayMs);
  }

  destroy(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.lingerTimer);
    this.handle.onread = noop;
    // libuv closes the descriptor at once; without a close callback, one call from libuv back
    // into JavaScript per connection is saved.
    this.handle.close();
    this.onClosed();
  }

  onRead(arrayBuffer: ArrayBuffer | undefined): void {
    const { io } = this;
    const nread = io.state[io.kReadBytesOrError] ?? 0;
    if (nread > 0) {
      if (!this.lingering && arrayBuffer)
        this.handlers?.data(Buffer.from(arrayBuffer, io.state[io.kArrayBufferOffset] ?? 0, nread));
      return;
    }
    if (nread === 0) return;
    if (nread === io.eof && !this.lingering) {
      this.peerEnded = true;
      this.handlers?.end();
    } else this.destroy(); // a read error, or the end of a lingering close
  }

  onWriteComplete(status: number): void {
    this.inFlight--;
    if (status < 0) this.destroy();
    else if (this.inFlight === 0) this.afterFlush();
  }

  private afterFlush(): void {
    this.waiters?.wake();
    if (this.state !== 'finishing') return;
    if (!this.lingering) {
      this.destroy();
      return;
    }
    const { handle, io } = this;
    const req = new io.ShutdownWrap();
    req.handle = handle;
    req.oncomplete = noop;
    // A peer that has already ended its side sends nothing more: nothing to wait for.
    if (this.peerEnded || handle.shutdown(req) !== 0) {
      this.destroy();
      return;
    }
    handle.readStart();
    this.lingerTimer = setTimeout(() => this.destroy(), lingerMs);
    this.lingerTimer.unref();
  }

  private onClosed(): void {
    this.waiters?.wake();
    this.handlers?.close();
  }
}

export function rawConn(handle: StreamHandle, io: RawStreams): GatewayConn {
  return new RawConn(handle, io);
}

/**
 * Accepts on a listening handle (shared with the other workers), handing each connection to
 * `onConnection` as a GatewayConn. Returns a function that stops accepting.
 */
export function acceptRaw(
  listener: ListenHandle,
  backlog: number,
  io: RawStreams,
  onConnection: (conn: GatewayConn) => void,
  onError: (status: number) => void,
): (onClosed: () => void) => void {
  listener.onconnection = (status, client) => {
    if (status !== 0 || !client) onError(status);
    else onConnection(rawConn(client, io));
  };
  const status = listener.listen(backlog);
  if (status !== 0) onError(status);
  return (onClosed) => listener.close(onClosed);
}
