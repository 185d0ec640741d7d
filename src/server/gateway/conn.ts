// One accepted connection as a gateway front-end sees it: bytes in through callbacks, bytes out
// with backpressure, and three ways to finish (close after the response, lingering close,
// reset). Two transports implement it: a libuv stream handle driven directly (raw-conn.ts, the
// fast path for uwsgi's one-connection-per-request traffic) and a net.Socket (socketConn below,
// the portable path).
import type { Socket } from 'node:net';
import { socketFd } from '../worker/stall-watchdog.js';
import { lingeringClose } from './socket-write.js';

export interface ConnHandlers {
  data(chunk: Buffer): void;
  /** The peer closed its side; writing still works. */
  end(): void;
  /** The connection is gone (after finish, reset, destroy or a network error). */
  close(): void;
}

export interface GatewayConn {
  /** The OS file descriptor (for the stall watchdog's direct writes); -1 when unknown. */
  readonly fd: number;
  /** True once the connection is closing or closed: writes are dropped. */
  readonly closed: boolean;
  /** The peer's address and port; `address` is undefined for a unix socket. */
  peer(): { address: string | undefined; port: number | undefined };
  /**
   * Starts delivering events; called once, before any other method. Bytes that came with the
   * connection may be delivered before it returns.
   */
  start(handlers: ConnHandlers): void;
  pause(): void;
  resume(): void;
  /** Sends bytes; false when the caller should wait for `drained()` before sending more. */
  write(data: Uint8Array): boolean;
  /** Settles once the queued bytes are sent, or the connection is gone. */
  drained(): Promise<void>;
  /** Sends small writes at once instead of waiting for the peer's ACK (streamed responses). */
  noDelay(): void;
  /**
   * Sends `last` (when given) and closes once the queued bytes are sent. With `linger`, ends our
   * side first and drops what the peer still sends for a while: closing with unread bytes makes
   * the kernel send a reset, and the peer could lose the response it has not read yet. Handing
   * over the last bytes here rather than through write() lets a transport send them together
   * with the end of the connection.
   */
  finish(linger: boolean, last?: Uint8Array): void;
  /**
   * Closes with a TCP reset, so the peer can tell a cut response from a complete one. The reset
   * leaves `resetDelayMs` after the bytes already written: a peer that finds the last bytes and
   * the reset waiting together may read them as a clean end (libuv and nginx both take a hang-up
   * after a short read as end-of-file).
   */
  reset(): void;
  /** Closes now; queued bytes are dropped. */
  destroy(): void;
}

/** Callers waiting in `drained()` for a transport's queued bytes; woken all at once. */
export class DrainWaiters {
  private waiting: Array<() => void> | undefined;

  wait(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiting ??= [];
      this.waiting.push(resolve);
    });
  }

  wake(): void {
    const ready = this.waiting;
    this.waiting = undefined;
    if (ready) for (const resolve of ready) resolve();
  }
}

export const lingerMs = 2000;
export const resetDelayMs = 50;

/** A GatewayConn over a net.Socket. */
export function socketConn(socket: Socket): GatewayConn {
  let resetting = false;
  // A peer that half-closes after its request still gets the response.
  socket.allowHalfOpen = true;
  socket.on('error', () => {}); // resets and EPIPEs end the connection; 'close' reports it
  return {
    get fd() {
      return socketFd(socket);
    },
    get closed() {
      return resetting || socket.destroyed || !socket.writable;
    },
    peer: () => ({ address: socket.remoteAddress, port: socket.remotePort }),
    start(handlers) {
      socket.on('data', (chunk: Buffer) => handlers.data(chunk));
      socket.on('end', () => handlers.end());
      socket.on('close', () => handlers.close());
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    write: (data) => socket.write(data),
    drained: () =>
      new Promise<void>((resolve) => {
        if (socket.destroyed || socket.writableLength === 0) {
          resolve();
          return;
        }
        const done = (): void => {
          socket.off('drain', done).off('close', done);
          resolve();
        };
        socket.on('drain', done).on('close', done);
      }),
    noDelay: () => socket.setNoDelay(true),
    finish(linger, last) {
      if (resetting || socket.destroyed) return;
      if (last) socket.write(last);
      if (!linger) {
        socket.end(() => socket.destroy());
        return;
      }
      lingeringClose(socket, lingerMs);
    },
    reset() {
      if (resetting || socket.destroyed) return;
      resetting = true;
      socket.pause();
      setTimeout(() => {
        if (!socket.destroyed) socket.resetAndDestroy();
      }, resetDelayMs);
    },
    destroy: () => socket.destroy(),
  };
}
