// The validated configuration of `pier serve`: what the master and workers act on. Built only by
// the config loader from the option registry; everything inside trusts it.
import type { Address } from './values.js';

export type SocketProtocol = 'http' | 'uwsgi' | 'fastcgi';

export interface SocketSpec {
  protocol: SocketProtocol;
  address: Address;
}

/** See the `gateway-io` option. */
export type GatewayIo = 'native' | 'libuv' | 'net';

export interface ServeConfig {
  sockets: SocketSpec[];
  app: string;
  processes: number;
  chdir: string | undefined;
  env: Array<[string, string]>;
  uid: string | undefined;
  gid: string | undefined;
  chmodSocket: number | undefined;
  vacuum: boolean;
  listen: number;
  /** TCP sockets: one per worker slot, SO_REUSEPORT (see master/listeners.ts). */
  reusePort: boolean;
  /** Seconds; 0 = off. */
  harakiri: number;
  maxRequests: number;
  maxRequestsDelta: number;
  /** Megabytes; 0 = off. */
  reloadOnRss: number;
  /** Seconds a stopping worker gets to finish its requests. */
  reloadMercy: number;
  limitPost: number;
  bufferSize: number;
  /** Seconds a client has to send a complete request head. */
  socketTimeout: number;
  /** Seconds an idle HTTP keep-alive connection stays open. */
  httpKeepalive: number;
  uwsgiAllowFrom: string[];
  /** How uwsgi connections are driven: libuv's stream handles directly, or net.Socket. */
  gatewayIo: GatewayIo;
  stats: Address | undefined;
  logformat: 'combined' | 'json';
  disableLogging: boolean;
  pidfile: string | undefined;
}
