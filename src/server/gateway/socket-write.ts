// Writing to a front-end's socket with backpressure: a promise when the socket is full, settled
// by 'drain' or by the socket closing (a closed peer must not leave the app waiting forever).
import type { Socket } from 'node:net';

export function whenDrained(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done).off('close', done);
      resolve();
    };
    socket.on('drain', done).on('close', done);
  });
}

export function writeAll(socket: Socket, buffers: readonly Uint8Array[]): Promise<void> | undefined {
  if (socket.destroyed || !socket.writable) return undefined;
  let ok = true;
  if (buffers.length > 1) socket.cork();
  for (const buffer of buffers) ok = socket.write(buffer);
  if (buffers.length > 1) socket.uncork();
  return ok ? undefined : whenDrained(socket);
}

/**
 * Ends our side and keeps reading (and dropping) what the peer still sends for a while:
 * closing with unread bytes would make the kernel send a reset, and the peer could lose the
 * response it has not read yet.
 */
export function lingeringClose(socket: Socket, lingerMs = 2000): void {
  if (socket.destroyed) return;
  socket.removeAllListeners('data');
  socket.on('data', () => {});
  socket.resume();
  socket.end();
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
