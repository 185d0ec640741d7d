// Moving an accepted connection from one worker to another through the master, as
// node:child_process moves any handle: the sender takes the libuv handle off its net.Socket
// (reading stopped, the socket object closed without closing the descriptor) and sends it over
// the IPC channel ('net.Native'); the receiver wraps it in a new net.Socket. Bytes the peer sent
// that nobody read yet wait in the kernel's receive queue and are read by the receiver.
//
// This is for FastCGI under nginx's `fastcgi_keep_conn on`: only the web server may close such a
// connection (FastCGI 1.0, FCGI_KEEP_CONN), so a worker that stops hands it on instead.
import { Socket } from 'node:net';

/** A libuv stream handle (TCPWrap, PipeWrap) as sent between processes. */
export interface StreamHandle {
  close(callback?: () => void): void;
}

interface SocketInternals {
  _handle?: (StreamHandle & { readStop?: () => number; reading?: boolean }) | null;
}

/**
 * Takes the descriptor's handle off `socket` so it can be sent to another process; `socket`
 * is destroyed (its 'close' event follows) but the connection stays open. Returns undefined,
 * leaving the socket as it was, when the socket cannot be handed on whole: bytes already read
 * from the kernel and not consumed, writes still queued, the peer's end seen, or no handle.
 */
export function detachHandle(socket: Socket): StreamHandle | undefined {
  const internals = socket as unknown as SocketInternals;
  const handle = internals._handle;
  if (!handle || typeof handle.readStop !== 'function') return undefined;
  if (socket.destroyed || socket.readableEnded || socket.readableLength > 0 || socket.writableLength > 0) {
    return undefined;
  }
  if (handle.readStop() !== 0) return undefined;
  // net.Socket reads this flag to know whether to start reading: as its own pause() does.
  handle.reading = false;
  internals._handle = null;
  socket.destroy();
  return handle;
}

/** A net.Socket reading from a handle another process sent (see detachHandle). */
export function adoptHandle(handle: object): Socket {
  // `handle` is what node:child_process itself passes for a received socket.
  return new Socket({ handle, readable: true, writable: true } as ConstructorParameters<typeof Socket>[0]);
}

/** Closes a received or detached handle that nobody will serve (the peer sees the connection end). */
export function closeHandle(handle: unknown): void {
  if (handle && typeof (handle as StreamHandle).close === 'function') (handle as StreamHandle).close();
}
