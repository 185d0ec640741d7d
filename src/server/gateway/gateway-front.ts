// The listening side of the uwsgi and FastCGI front-ends in a worker: accepts on the handle the
// master bound, hands each connection to serveUwsgi / serveFastcgi, refuses uwsgi peers outside
// uwsgi-allow-from (their vars are trusted input), and drains gracefully on stop.
//
// uwsgi connections run on pier's native transport (`gateway-io = native`, see native-conn.ts)
// when it is built, else on libuv's handles driven directly when this Node allows it
// (`gateway-io = libuv`, see raw-conn.ts), else on net.Socket. FastCGI connections, long-lived
// under fastcgi_keep_conn, stay on net.Socket.

import { createServer, type Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';
import type { GatewayIo } from '../config/serve-config.js';
import { serveFastcgi } from '../fastcgi/serve-fastcgi.js';
import type { ConnectionContext, HandOff, ServedConnection } from '../protocol.js';
import { serveUwsgi } from '../uwsgi/serve-uwsgi.js';
import type { Front } from '../worker/fronts.js';
import { type GatewayConn, socketConn } from './conn.js';
import { acceptNative, nativeIo } from './native-conn.js';
import { acceptRaw, isListenHandle, type ListenHandle, rawStreams } from './raw-conn.js';
import { adoptHandle, closeHandle } from './socket-handoff.js';

export interface GatewayFrontOptions {
  uwsgiAllowed: (remoteAddress: string | undefined) => boolean;
  gatewayIo: GatewayIo;
}

const loopback = /^(127\.|::1$|::ffff:127\.)/;

export function createGatewayFront(
  protocol: 'uwsgi' | 'fastcgi',
  ctx: ConnectionContext,
  options: GatewayFrontOptions,
): Front {
  // Open connections: all of them counted, the FastCGI ones kept (they may idle between requests
  // under fastcgi_keep_conn). A uwsgi connection is never idle, so draining just waits for it.
  let open = 0;
  const idleCapable = new Set<ServedConnection>();
  let draining = false;
  let handOff: HandOff | undefined;
  let onDrained: (() => void) | undefined;
  let listenerClosed = false;
  const settle = (): void => {
    if (listenerClosed && open === 0) onDrained?.();
  };
  const closed = (): void => {
    open--;
    settle();
  };
  // Every peer of a socket bound to loopback (or a unix path) is local: when local peers are
  // allowed, there is nothing to check per connection.
  let checkPeers = protocol === 'uwsgi';
  const checkBound = (address: string | undefined): void => {
    if (address === undefined) checkPeers &&= !options.uwsgiAllowed(undefined);
    else if (loopback.test(address)) checkPeers &&= !options.uwsgiAllowed(address);
  };
  const refused = (conn: GatewayConn): boolean => {
    if (!checkPeers) return false;
    const { address } = conn.peer();
    if (options.uwsgiAllowed(address)) return false;
    ctx.log(`uwsgi: refused a connection from ${address ?? 'unix'}: not in uwsgi-allow-from`);
    conn.destroy();
    return true;
  };
  const onUwsgi = (conn: GatewayConn): void => {
    if (refused(conn)) return;
    open++;
    serveUwsgi(conn, ctx, closed);
  };

  const onFastcgi = (socket: Socket, adopted: boolean): void => {
    const served = serveFastcgi(socket, ctx, adopted);
    open++;
    idleCapable.add(served);
    socket.once('close', () => {
      idleCapable.delete(served);
      closed();
    });
    if (draining) served.closeWhenIdle(handOff);
  };

  // Until listen() runs there is nothing to close.
  let closeListener = (onClosed: () => void): void => onClosed();
  const transport = protocol === 'uwsgi' ? uwsgiTransport(options.gatewayIo, ctx.log) : 'net';
  const acceptFailed = acceptErrorLog(protocol, ctx.log);
  const listen = (handle: object, backlog: number): void => {
    if (transport !== 'net' && isListenHandle(handle)) {
      const listener: ListenHandle = handle;
      const bound: { address?: string } = {};
      if (listener.getsockname?.(bound) !== 0) bound.address = undefined;
      checkBound(bound.address);
      const native = transport === 'native' ? nativeIo() : null;
      if (native && typeof listener.fd === 'number') {
        const stop = acceptNative(native, listener.fd, backlog, onUwsgi, acceptFailed);
        if (typeof stop === 'function') {
          closeListener = (onClosed) => {
            stop();
            listener.close(onClosed);
          };
          return;
        }
        ctx.log(
          `uwsgi: the native transport cannot listen (${getSystemErrorName(stop)}); serving on libuv handles`,
        );
      }
      const io = rawStreams();
      if (io) {
        closeListener = acceptRaw(listener, backlog, io, onUwsgi, acceptFailed);
        return;
      }
    }
    const server = createServer((socket: Socket) => {
      if (protocol === 'uwsgi') onUwsgi(socketConn(socket));
      else onFastcgi(socket, false);
    });
    server.on('error', (err) => ctx.log(`${protocol}: listener error: ${err.message}`));
    server.once('listening', () => {
      const address = server.address();
      checkBound(typeof address === 'string' || address === null ? undefined : address.address);
    });
    server.listen(handle, backlog);
    closeListener = (onClosed) => server.close(() => onClosed());
  };

  return {
    listen,
    drain(onClosed, passOn) {
      if (draining) return;
      draining = true;
      handOff = passOn;
      onDrained = onClosed;
      closeListener((): void => {
        listenerClosed = true;
        settle();
      });
      for (const served of idleCapable) served.closeWhenIdle(handOff);
    },
    adopt(handle) {
      if (protocol === 'fastcgi') onFastcgi(adoptHandle(handle), true);
      else closeHandle(handle);
    },
  };
}

/**
 * The transport uwsgi connections get: the one `gateway-io` asks for, or the next one down
 * (native → libuv → net) when this build or this Node cannot offer it, said once in the log.
 */
function uwsgiTransport(wanted: GatewayIo, log: (line: string) => void): GatewayIo {
  if (wanted === 'native') {
    if (nativeIo()) return 'native';
    log('uwsgi: the native transport is not built (npm run build:native); serving on libuv handles');
    wanted = 'libuv';
  }
  if (wanted === 'libuv') {
    if (rawStreams()) return 'libuv';
    log('uwsgi: this Node does not expose its stream handles (process.binding); serving on net.Socket');
  }
  return 'net';
}

/**
 * Logs failed accepts at most once a second, with how many more there were. Out of file
 * descriptors, the transports pause accepting and retry, which would otherwise log a line each
 * time.
 */
function acceptErrorLog(protocol: string, log: (line: string) => void): (errno: number) => void {
  let lastAt = 0;
  let unreported = 0;
  return (errno) => {
    const now = Date.now();
    if (now - lastAt < 1000) {
      unreported++;
      return;
    }
    lastAt = now;
    const name = errno < 0 ? getSystemErrorName(errno) : String(errno);
    const more = unreported > 0 ? ` (${unreported} more since the last report)` : '';
    unreported = 0;
    const hint =
      name === 'EMFILE' || name === 'ENFILE'
        ? ': out of file descriptors; new connections wait in the backlog. Raise the limit (LimitNOFILE= in the systemd unit, ulimit -n)'
        : '';
    log(`${protocol}: accept failed: ${name}${more}${hint}`);
  };
}
