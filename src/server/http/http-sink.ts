// The ResponseSink of a node:http response, for fetch apps on the HTTP front-end: a whole
// response in one write, streamed bodies with the socket's backpressure, a 'close' before the
// end reported as the client gone, and a cut that no client can take for a complete response.
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { bodyAllowed } from '../app/body-allowed.js';
import type { FlatResponse } from '../app/light-response.js';
import type { ResponseHead, ResponseSink } from '../app/response-sink.js';
import { resetDelayMs } from '../gateway/conn.js';

const cutMark = Symbol('pier.cut');
type Marked = ServerResponse & { [cutMark]?: true };

/**
 * Node asks the kernel for a socket's peer address (getpeername) the first time it is read, and
 * cannot once the socket is destroyed: read it before destroying one, so the request's access
 * record still names its client.
 */
export function rememberPeer(socket: Socket): void {
  void socket.remoteAddress;
}

/**
 * Ends a response the server cannot complete (the app failed after the head, harakiri) so that
 * no client takes it for whole: over HTTP/1.0, or for a body without Content-Length, a plain
 * close is a clean end. The connection is reset instead, `resetDelayMs` after the bytes already
 * written (see GatewayConn.reset); what the app writes meanwhile is dropped, and so is the end
 * of a chunked body. A unix socket has no reset: it closes, leaving a chunked body unterminated.
 */
export function cutResponse(res: ServerResponse): void {
  if ((res as Marked)[cutMark]) return;
  (res as Marked)[cutMark] = true;
  const socket = res.socket as Socket | null;
  if (!socket || socket.destroyed) {
    res.destroy();
    return;
  }
  rememberPeer(socket);
  // Own properties on this one response: the common path keeps node:http's methods untouched.
  res.write = dropWrite as ServerResponse['write'];
  res.end = function (this: ServerResponse) {
    return this;
  } as ServerResponse['end'];
  socket.pause();
  setTimeout(() => {
    if (socket.destroyed) return;
    if (socket.remotePort === undefined) socket.destroy();
    else socket.resetAndDestroy();
  }, resetDelayMs);
}

function dropWrite(_chunk: unknown, ...rest: unknown[]): boolean {
  const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
  if (callback) process.nextTick(callback);
  return false;
}

/** Whether the server cut this response (rather than the client leaving). */
export function wasCut(res: ServerResponse): boolean {
  return (res as Marked)[cutMark] === true;
}

/**
 * Writes a light response (see lightFlat) whole: the head and a string body go out as one write,
 * the string never copied into a Buffer first. Returns the body bytes sent.
 */
export function writeWhole(res: ServerResponse, response: FlatResponse, method: string): number {
  const { body, status, length } = response;
  res.writeHead(status, response.statusText || undefined, response.headers);
  if (body === null || length === 0 || !bodyAllowed(method, status)) {
    res.end();
    return 0;
  }
  res.end(body);
  return length;
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });
}

export class HttpSink implements ResponseSink {
  /** Body bytes handed to the socket. */
  bytes = 0;
  private goneListener: (() => void) | undefined;

  constructor(private readonly res: ServerResponse) {}

  head(head: ResponseHead): void {
    this.res.writeHead(head.status, head.statusText || undefined, head.headers.flat());
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    const { res } = this;
    if (res.destroyed || wasCut(res)) return undefined;
    this.bytes += chunk.length;
    return res.write(chunk) ? undefined : drained(res);
  }

  end(): void {
    if (!this.res.destroyed && !wasCut(this.res)) this.res.end();
  }

  abort(): void {
    cutResponse(this.res);
  }

  complete(head: ResponseHead, body: Uint8Array | undefined): void {
    const { res } = this;
    res.writeHead(head.status, head.statusText || undefined, head.headers.flat());
    this.bytes = body?.length ?? 0;
    res.end(body);
  }

  onGone(listener: () => void): void {
    if (!this.goneListener) {
      this.res.once('close', () => {
        if (!this.res.writableEnded) this.goneListener?.();
      });
    }
    this.goneListener = listener;
  }
}
