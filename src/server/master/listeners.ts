// Binds the configured sockets in the master, before privileges are dropped. The master only
// binds them; each worker calls listen() on the shared handle and accepts on it, so the master
// never takes a connection and the kernel queue survives any one worker.
import { chmodSync } from 'node:fs';
import net, { isIPv6 } from 'node:net';
import type { ActivatedSocket } from '../../infra/socket-activation.js';
import { assignActivatedSockets, type ProbedSocket } from '../../infra/socket-assignment.js';
import { unixSocketPath } from '../../infra/socket-path.js';
import type { ServeConfig, SocketSpec } from '../config/serve-config.js';
import { formatAddress } from '../config/values.js';
import { ServerError } from '../errors.js';
import { nativeAddon } from '../gateway/native-conn.js';
import { checkSocketPath, placeSocket, removeOwnSocket, stagingPath } from './socket-file.js';

/** libuv's TCP/Pipe handle as Node's net module creates it (the same call node:cluster uses). */
export interface RawHandle {
  close(callback?: () => void): void;
  getsockname?(out: { address?: string; port?: number }): number;
}

type CreateServerHandle = (
  address: string | null,
  port: number,
  addressType: number,
  fd?: number,
) => RawHandle | number;
const createServerHandle = (net as unknown as { _createServerHandle: CreateServerHandle })
  ._createServerHandle;

export interface Listener {
  spec: SocketSpec;
  handle: RawHandle;
  /** `reuse-port`: the socket of each worker slot (slot 1 first; `handle` is slot 1's). */
  slots?: RawHandle[];
  /** A unix socket file we created and its inode, to remove on exit with vacuum. */
  file: { path: string; ino: number } | undefined;
  /** The bound address, with the real port when port 0 was asked for. */
  bound: string;
}

const errnoText: Record<string, string> = {
  '-98': 'address already in use',
  '-13': 'permission denied',
  '-99': 'address not available on this host',
};

/** A failed bind of `where` (`errno` negative, as libuv and the native module return it). */
function cannotBind(
  where: string,
  errno: number,
  why = errnoText[String(errno)] ?? `error ${errno}`,
): ServerError {
  const hint = errno === -98 ? ' (another server holds this port: stop it or pick another)' : '';
  return new ServerError('LISTEN', `cannot bind ${where}: ${why}${hint}`);
}

/** `host:port`, an IPv6 host in brackets. */
function tcpBound(host: string, port: number | undefined): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function bind(spec: SocketSpec, at?: string): { handle: RawHandle; bound: string } {
  const address = spec.address;
  const where = `${formatAddress(address)} (${spec.protocol})`;
  if (address.kind === 'fd') {
    throw new ServerError('LISTEN', `fd:${address.name}: no socket-activated descriptor by that name`);
  }
  const result =
    address.kind === 'tcp'
      ? createServerHandle(address.host, address.port, isIPv6(address.host) ? 6 : 4)
      : createServerHandle((at ?? address.path).replace(/^@/, '\0'), -1, -1);
  if (typeof result === 'number') throw cannotBind(where, result);
  if (address.kind !== 'tcp') return { handle: result, bound: address.path };
  const out: { address?: string; port?: number } = {};
  // libuv reports a TCP port in use only when the socket listens (the workers' job); the
  // address lookup returns that delayed error now, so the master can refuse to start.
  const status = result.getsockname?.(out) ?? 0;
  if (status < 0) {
    result.close();
    throw cannotBind(where, status);
  }
  return { handle: result, bound: tcpBound(out.address ?? address.host, out.port) };
}

/** A descriptor systemd passed (already bound and listening), wrapped like a bound one. */
function adopt(socket: ActivatedSocket): ProbedSocket & { handle: RawHandle } {
  const handle = createServerHandle(null, 0, 0, socket.fd);
  if (typeof handle === 'number') {
    throw new ServerError(
      'LISTEN',
      `fd ${socket.fd} ("${socket.name}") from systemd is not a socket (${handle})`,
    );
  }
  const out: { address?: string; port?: number } = {};
  const tcp = handle.getsockname?.(out) === 0 && out.port !== undefined;
  const address = tcp ? tcpBound(out.address ?? '', out.port) : unixSocketPath(socket.fd);
  return { ...socket, handle, ...(address === undefined ? {} : { address }) };
}

const optionOf = { http: 'http-socket', uwsgi: 'socket', fastcgi: 'fastcgi-socket' } as const;

export async function bindListeners(
  config: ServeConfig,
  activated: ActivatedSocket[] = [],
): Promise<Listener[]> {
  const listeners: Listener[] = [];
  const adopted = activated.map(adopt);
  try {
    const assignments = assignActivatedSockets(
      config.sockets.map((spec) => ({ option: optionOf[spec.protocol], value: formatAddress(spec.address) })),
      adopted,
    );
    for (const [index, spec] of config.sockets.entries()) {
      const passed = adopted.find((socket) => socket.fd === assignments[index]?.fd);
      if (passed) {
        listeners.push({
          spec,
          handle: passed.handle,
          file: undefined,
          bound: passed.address ?? `fd:${passed.fd}`,
        });
        continue;
      }
      const path =
        spec.address.kind === 'unix' && !spec.address.path.startsWith('@') ? spec.address.path : undefined;
      if (config.reusePort && spec.address.kind === 'tcp') {
        const { slots, bound } = bindPerSlot(spec, config.processes);
        listeners.push({ spec, handle: slots[0] as RawHandle, slots, bound, file: undefined });
        continue;
      }
      if (!path) {
        listeners.push({ spec, ...bind(spec), file: undefined });
        continue;
      }
      await checkSocketPath(path, optionOf[spec.protocol]);
      const staged = stagingPath(path, index);
      const { handle, bound } = bind(spec, staged);
      try {
        // Permissions are set before the socket appears under its name: no client sees it open.
        if (config.chmodSocket !== undefined) chmodSync(staged, config.chmodSocket);
        listeners.push({ spec, handle, bound, file: { path, ino: placeSocket(staged, path) } });
      } catch (err) {
        handle.close();
        throw err;
      }
    }
  } catch (err) {
    closeListeners(listeners, true);
    for (const socket of adopted)
      if (!listeners.some((l) => l.handle === socket.handle)) socket.handle.close();
    throw err;
  }
  return listeners;
}

/**
 * `reuse-port`: `count` sockets on the spec's TCP address, one per worker slot, each bound with
 * SO_REUSEPORT (socket(7)) by pier's native module. The kernel hashes each new connection to
 * one listening socket, so a worker gets its share instead of whatever it accepts first in one
 * wake-up. The master keeps every socket: a worker that dies or is reloaded leaves its slot's
 * queue to the next worker of the slot, so no queued connection is lost; they wait for it.
 * Throws ServerError LISTEN when the module is not built or a bind fails.
 */
function bindPerSlot(spec: SocketSpec, count: number): { slots: RawHandle[]; bound: string } {
  const address = spec.address as Extract<SocketSpec['address'], { kind: 'tcp' }>;
  const where = `${formatAddress(address)} (${spec.protocol})`;
  const addon = nativeAddon();
  if (!addon) {
    throw new ServerError(
      'LISTEN',
      `reuse-port: cannot bind ${where}: pier's native module is not built (npm run build:native; Linux only), or drop reuse-port`,
    );
  }
  const slots: RawHandle[] = [];
  let port = address.port;
  let bound = '';
  try {
    for (let slot = 0; slot < count; slot++) {
      const fd = addon.reusePortSocket(address.host, port);
      if (fd === -22) throw cannotBind(where, fd, 'reuse-port takes an IP address, not a name');
      if (fd < 0) throw cannotBind(where, fd);
      const handle = createServerHandle(null, 0, 0, fd);
      if (typeof handle === 'number') throw cannotBind(where, handle);
      slots.push(handle);
      if (slot === 0) {
        // Port 0 asks for any free port: the other slots bind the one the first got.
        const out: { address?: string; port?: number } = {};
        handle.getsockname?.(out);
        port = out.port ?? port;
        bound = tcpBound(out.address ?? address.host, port);
      }
    }
  } catch (err) {
    for (const handle of slots) handle.close();
    throw err;
  }
  return { slots, bound };
}

export function closeListeners(listeners: Listener[], vacuum: boolean): void {
  for (const listener of listeners) {
    for (const handle of listener.slots ?? [listener.handle]) handle.close();
    if (vacuum && listener.file) removeOwnSocket(listener.file.path, listener.file.ino);
  }
}
