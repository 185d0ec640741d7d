// The listening side of the uwsgi and FastCGI front-ends in a worker: a net.Server that hands
// each accepted connection to serveUwsgi / serveFastcgi, refuses uwsgi peers outside
// uwsgi-allow-from (their vars are trusted input), and drains gracefully on stop.
import { createServer, type Server, type Socket } from 'node:net';
import { serveFastcgi } from '../fastcgi/serve-fastcgi.js';
import type { ConnectionContext, ServedConnection } from '../protocol.js';
import { serveUwsgi } from '../uwsgi/serve-uwsgi.js';

export interface GatewayFront {
  server: Server;
  /** Stop accepting; idle connections close now, busy ones after their request. */
  drain(): void;
}

export function createGatewayFront(
  protocol: 'uwsgi' | 'fastcgi',
  ctx: ConnectionContext,
  options: { uwsgiAllowed: (remoteAddress: string | undefined) => boolean },
): GatewayFront {
  const serve = protocol === 'uwsgi' ? serveUwsgi : serveFastcgi;
  const connections = new Set<ServedConnection>();
  let draining = false;
  // Every peer of a socket bound to loopback (or a unix path) is local: when local peers are
  // allowed, there is nothing to check per connection.
  let checkPeers = protocol === 'uwsgi';
  const server = createServer((socket: Socket) => {
    if (checkPeers && !options.uwsgiAllowed(socket.remoteAddress)) {
      ctx.log(`uwsgi: refused a connection from ${socket.remoteAddress ?? 'unix'}: not in uwsgi-allow-from`);
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    const served = serve(socket, ctx);
    connections.add(served);
    socket.once('close', () => connections.delete(served));
    if (draining) served.closeWhenIdle();
  });
  server.on('error', (err) => ctx.log(`${protocol}: listener error: ${err.message}`));
  server.once('listening', () => {
    const bound = server.address();
    if (typeof bound === 'string' || bound === null) checkPeers &&= !options.uwsgiAllowed(undefined);
    else if (/^(127\.|::1$|::ffff:127\.)/.test(bound.address))
      checkPeers &&= !options.uwsgiAllowed(bound.address);
  });
  return {
    server,
    drain() {
      if (draining) return;
      draining = true;
      server.close();
      for (const served of connections) served.closeWhenIdle();
    },
  };
}
