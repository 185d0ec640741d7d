// How a front-end names its peer in log lines: `address:port`, or `unix` for a unix socket.
import type { Socket } from 'node:net';

export function peerLabel(protocol: string, socket: Socket): string {
  const address = socket.remoteAddress ?? 'unix';
  return `${protocol} ${address}${socket.remotePort ? `:${socket.remotePort}` : ''}`;
}
