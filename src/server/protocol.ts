// What every protocol front-end (HTTP, uwsgi, FastCGI) gets from the worker that owns the
// listening socket, and what it reports back per request. Front-ends own their sockets;
// parsers beneath them do no I/O.
import type { App } from './app/handler.js';
import type { StreamHandle } from './gateway/socket-handoff.js';
import type { StallWatchdog } from './worker/stall-watchdog.js';

export type ProtocolName = 'http' | 'uwsgi' | 'fastcgi';

export interface ProtocolLimits {
  /** Largest vars block / header section in bytes (uWSGI's buffer-size); over it → 431 or close. */
  bufferSize: number;
  /** Largest request body in bytes; 0 = unlimited; over it → 413. */
  limitPost: number;
  /** A request whose head has not fully arrived after this long → 408 or close. */
  headersTimeoutMs: number;
  /** A request body that sends no byte for this long while the app waits → 408 or close; 0 = off. */
  bodyTimeoutMs: number;
  /** harakiri in ms: a request unanswered after this long gets 504; 0 = off. */
  harakiriMs: number;
}

/** One finished request, for the access log and the stats counters. */
export interface RequestRecord {
  protocol: ProtocolName;
  remoteAddress: string;
  method: string;
  target: string;
  status: number;
  /** Response body bytes. */
  bytes: number;
  durationMs: number;
  referer: string;
  userAgent: string;
}

export interface ConnectionContext {
  app: App;
  limits: ProtocolLimits;
  /** Error and warning lines, one per problem, never a stack. */
  log: (line: string) => void;
  onRequest: (record: RequestRecord) => void;
  /**
   * Present when nothing reads a record's fields beyond its status (no access log): a front may
   * then count a finished request by its status instead of building a RequestRecord.
   */
  countRequest?: ((status: number) => void) | undefined;
  /** Present when harakiri is on: front-ends register each request so a stuck loop still answers. */
  watchdog?: StallWatchdog | undefined;
}

/**
 * Sends an idle connection's handle to another worker (through the master) instead of closing
 * it: see gateway/socket-handoff.ts.
 */
export type HandOff = (handle: StreamHandle) => void;

/** A served connection as the worker tracks it for graceful stops. */
export interface ServedConnection {
  /** True between requests (keep-alive / fastcgi_keep_conn): safe to close on shutdown. */
  readonly idle: boolean;
  /**
   * Close now if idle, else as soon as the current request completes. With `handOff`, a
   * connection the peer keeps between requests goes to `handOff` instead of being closed.
   */
  closeWhenIdle(handOff?: HandOff): void;
}
