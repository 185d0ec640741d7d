// One protocol front-end per listening socket a worker receives: an http.Server for HTTP, the
// gateway front-end (uwsgi, FastCGI) otherwise.
import type { GatewayIo, SocketProtocol } from '../config/serve-config.js';
import { createGatewayFront } from '../gateway/gateway-front.js';
import { createHttpFront } from '../http/http-front.js';
import type { ConnectionContext, HandOff } from '../protocol.js';

export interface Front {
  /** Accepts on the listening handle the master bound, alongside the other workers. */
  listen(handle: object, backlog: number): void;
  /**
   * Stops accepting; closes connections as their requests complete; `onClosed` once all are
   * gone. With `handOff`, connections the web server keeps between requests (FastCGI keep-conn)
   * go there instead of being closed.
   */
  drain(onClosed: () => void, handOff?: HandOff): void;
  /** Serves a connection another worker handed on (a FastCGI front; others close it). */
  adopt(handle: object): void;
}

export interface FrontOptions {
  keepAliveMs: number;
  /** Whether a uwsgi peer may talk to us (its vars are trusted). */
  uwsgiAllowed: (remoteAddress: string | undefined) => boolean;
  gatewayIo: GatewayIo;
}

export function createFront(protocol: SocketProtocol, ctx: ConnectionContext, options: FrontOptions): Front {
  if (protocol === 'http') {
    return createHttpFront(ctx, { keepAliveMs: options.keepAliveMs });
  }
  return createGatewayFront(protocol, ctx, options);
}
