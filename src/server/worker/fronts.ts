// One protocol front-end per listening socket a worker receives: an http.Server for HTTP, a
// net.Server handing each connection to the uwsgi or FastCGI front-end.
import type { Server } from 'node:net';
import type { SocketProtocol } from '../config/serve-config.js';
import { createGatewayFront } from '../gateway/gateway-front.js';
import { createHttpFront } from '../http/http-front.js';
import type { ConnectionContext } from '../protocol.js';
import type { StallWatchdog } from './stall-watchdog.js';

export interface Front {
  server: Server;
  /** Stop accepting; close connections as their requests complete. `server` emits 'close' when the last is gone. */
  drain(): void;
}

export interface FrontOptions {
  keepAliveMs: number;
  watchdog: StallWatchdog | undefined;
  /** Whether a uwsgi peer may talk to us (its vars are trusted). */
  uwsgiAllowed: (remoteAddress: string | undefined) => boolean;
}

export function createFront(protocol: SocketProtocol, ctx: ConnectionContext, options: FrontOptions): Front {
  if (protocol === 'http') {
    return createHttpFront(ctx, { keepAliveMs: options.keepAliveMs, watchdog: options.watchdog });
  }
  return createGatewayFront(protocol, ctx, options);
}
