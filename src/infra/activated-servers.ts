// Turns the descriptors systemd passed into listening net.Servers (Node 20 adopts a bound,
// listening fd with `listen({ fd })`) and learns the address each is bound to, so configured
// addresses can be matched to them. Node reports no address for an adopted unix socket: the
// kernel's table (/proc/net/unix, by the socket's inode) has its path.
import { readFileSync, readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { ActivatedSocket } from './socket-activation.js';
import type { ProbedSocket } from './socket-assignment.js';

export type ListeningSocket = ProbedSocket & { server: Server };

/** Adopt each passed fd. The servers have no connection listener yet: attach one, or hand
 * the server (its handle) to the workers. Closing a server closes its fd. */
export async function adoptActivatedSockets(
  sockets: ActivatedSocket[],
  backlog = 1024,
): Promise<ListeningSocket[]> {
  return Promise.all(
    sockets.map(
      (socket) =>
        new Promise<ListeningSocket>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen({ fd: socket.fd, backlog }, () => {
            server.off('error', reject);
            const address = describeAddress(server) ?? unixSocketPath(socket.fd);
            resolve({ ...socket, server, ...(address === undefined ? {} : { address }) });
          });
        }),
    ),
  );
}

function describeAddress(server: Server): string | undefined {
  const address = server.address();
  if (address === null) return undefined;
  if (typeof address === 'string') return address;
  return address.family === 'IPv6'
    ? `[${address.address}]:${address.port}`
    : `${address.address}:${address.port}`;
}

/** The path a unix socket descriptor is bound to, from the kernel's table (/proc/net/unix
 * rows: Num RefCount Protocol Flags Type St Inode Path), looked up by the socket's inode. */
export function unixSocketPath(fd: number): string | undefined {
  try {
    const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
    if (!inode) return undefined;
    for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[6] === inode && fields[7]) return fields[7];
    }
  } catch {
    // Not Linux, or /proc not mounted: the socket can still be named with fd:NAME.
  }
  return undefined;
}
