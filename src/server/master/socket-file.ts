// The unix socket files pier creates, and the one rule for every path it binds or removes: a
// path holding anything but a socket is never touched, a socket some live process listens on
// is never taken over, and at exit only the socket pier itself bound (same inode) is removed.
//
// Sockets are bound at a staging name beside the final path and renamed into place. The rename
// atomically replaces a stale socket, and libuv, which unlinks the name it bound when the handle
// closes, then unlinks only the staging name: whether the socket file outlives the server is
// decided by `vacuum`, not by libuv.
import { lstatSync, renameSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { ServerError } from '../errors.js';

/** Longest unix socket path Linux takes (sun_path is 108 bytes with the terminating NUL). */
const maxSocketPath = 107;

const kindOf = (stats: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): string =>
  stats.isFile()
    ? 'a regular file'
    : stats.isDirectory()
      ? 'a directory'
      : stats.isSymbolicLink()
        ? 'a symbolic link'
        : 'not a socket';

/** Whether a process accepts connections on the socket at `file`: connected → true,
 * ECONNREFUSED (a file left by a dead server) → false; anything else is an error naming it. */
function probe(file: string, what: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect(file);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(false);
      else
        reject(
          new ServerError(
            'SOCKET_PATH',
            `${file} (${what}): cannot tell whether a server listens on this socket (${err.code ?? err.message}); pier leaves it alone`,
          ),
        );
    });
  });
}

/**
 * Makes `file` free for a new socket: nothing there, or a stale socket file. Throws a
 * ServerError (code SOCKET_PATH) when the path holds a non-socket (a regular file, a directory,
 * a symlink), or ADDRESS_IN_USE when a live process listens on the socket. `what` names the
 * option for messages (e.g. `http-socket`, `stats`). Nothing is removed here: the socket bound
 * at `stagingPath(file)` replaces a stale one by rename.
 */
export async function checkSocketPath(file: string, what: string): Promise<void> {
  let stats: ReturnType<typeof lstatSync>;
  try {
    stats = lstatSync(file);
  } catch {
    return;
  }
  if (!stats.isSocket()) {
    throw new ServerError(
      'SOCKET_PATH',
      `${file} (${what}): exists and is not a socket (${kindOf(stats)}); pier will not replace it`,
    );
  }
  if (await probe(file, what)) {
    throw new ServerError(
      'ADDRESS_IN_USE',
      `${file} (${what}): another server is listening on this unix socket`,
    );
  }
}

/**
 * Where to bind a socket meant for `file`: a hidden name in the same directory (so the rename
 * stays on one filesystem), unique to this process. When that name would not fit in sun_path,
 * `file` itself (libuv then removes the socket when it closes, whatever `vacuum` says).
 */
export function stagingPath(file: string, tag: string | number): string {
  const staged = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${tag}`);
  return Buffer.byteLength(staged) <= maxSocketPath ? staged : file;
}

/** Moves a socket bound at `staged` to `file`; returns its inode, to recognise it at exit. */
export function placeSocket(staged: string, file: string): number {
  if (staged !== file) renameSync(staged, file);
  return lstatSync(file).ino;
}

/**
 * Removes `file` if it is still the socket pier bound (inode `ino`): a path someone replaced
 * since, with a file or another server's socket, stays. Failures (gone already, a master that
 * dropped the rights to the directory) leave it for the next start, which replaces a stale socket.
 */
export function removeOwnSocket(file: string, ino: number): void {
  try {
    const stats = lstatSync(file);
    if (stats.isSocket() && stats.ino === ino) unlinkSync(file);
  } catch {
    // see above
  }
}
