// Counts what a Node process sends and receives over TCP, per remote port: every socket's
// `bytesWritten`/`bytesRead` (what Node handed to and got from the kernel: SSH packets, encrypted,
// without TCP/IP headers) added up when the socket closes, plus the sockets still open at exit.
// Loaded into the measured `pier` with `node --import <this file>`; it writes its totals as JSON to
// $PIER_SOCKET_METER_DIR/meter-<pid>.json when the process exits. It only observes: it wraps
// `net.Socket.prototype.connect` to note each outgoing socket, and changes nothing it does.
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface PortTotals {
  /** Outgoing connections made to this port. */
  connections: number;
  bytesWritten: number;
  bytesRead: number;
}

export type SocketTotals = Record<string, PortTotals>;

/** Starts counting outgoing TCP sockets in this process; returns a reader of the totals so far. */
export function meterSockets(): () => SocketTotals {
  const totals: SocketTotals = {};
  const open = new Set<net.Socket>();
  const portOf = new WeakMap<net.Socket, string>();
  const add = (socket: net.Socket) => {
    const key = portOf.get(socket) ?? 'unknown';
    const entry = totals[key] ?? { connections: 0, bytesWritten: 0, bytesRead: 0 };
    entry.bytesWritten += socket.bytesWritten ?? 0;
    entry.bytesRead += socket.bytesRead ?? 0;
    totals[key] = entry;
  };
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    if (!open.has(this)) {
      open.add(this);
      const first = args[0];
      const port =
        typeof first === 'object' && first !== null && 'port' in first
          ? String((first as { port: unknown }).port)
          : typeof first === 'number' || typeof first === 'string'
            ? String(first)
            : 'unknown';
      portOf.set(this, port);
      const entry = totals[port] ?? { connections: 0, bytesWritten: 0, bytesRead: 0 };
      entry.connections++;
      totals[port] = entry;
      this.once('close', () => {
        if (open.delete(this)) add(this);
      });
    }
    return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;
  return () => {
    const snapshot: SocketTotals = structuredClone(totals);
    for (const socket of open) {
      const key = portOf.get(socket) ?? 'unknown';
      const entry = snapshot[key] ?? { connections: 0, bytesWritten: 0, bytesRead: 0 };
      entry.bytesWritten += socket.bytesWritten ?? 0;
      entry.bytesRead += socket.bytesRead ?? 0;
      snapshot[key] = entry;
    }
    return snapshot;
  };
}

const outDir = process.env.PIER_SOCKET_METER_DIR;
if (outDir) {
  const read = meterSockets();
  process.on('exit', () => {
    writeFileSync(path.join(outDir, `meter-${process.pid}.json`), JSON.stringify(read()));
  });
}
