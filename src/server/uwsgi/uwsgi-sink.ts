// The ResponseSink of a uwsgi connection: raw HTTP head, then body bytes as they come; the end
// of the body is the end of the connection. An abort resets the connection, so nginx can tell a
// cut response from a complete one (with no Content-Length both end at a close). A connection
// that closes before the response ended is reported to the dispatcher as the client gone.
import { bodyAllowed } from '../app/body-allowed.js';
import type { ResponseHead, ResponseSink } from '../app/response-sink.js';
import type { GatewayConn } from '../gateway/conn.js';
import { httpHead, httpResponse } from './http-head.js';

// A class rather than closures: one is made for every request.
class UwsgiSink implements ResponseSink {
  private withBody = true;
  // A streamed head waits for the first body bytes (or the end of the tick) so both leave in
  // one packet.
  private pendingHead: Buffer | undefined;
  // The response ended (end, abort, complete); before that, a closed connection means the
  // client went away.
  private ended = false;
  private gone = false;
  private goneListener: (() => void) | undefined;

  constructor(
    private readonly conn: GatewayConn,
    private readonly method: string,
    // Closes the connection, after `last` when given.
    private readonly onEnd: (last?: Uint8Array) => void,
    private readonly onHead: (() => void) | undefined,
  ) {}

  head(response: ResponseHead): void {
    this.onHead?.();
    this.withBody = bodyAllowed(this.method, response.status);
    if (this.conn.closed) return;
    // A streamed response leaves in several writes; Nagle would hold the last one back for the
    // peer's delayed ACK. (A whole response goes out in one write, see complete().)
    this.conn.noDelay();
    this.pendingHead = httpHead(response);
    process.nextTick(() => this.flushHead());
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    if (!this.withBody || this.conn.closed) return undefined;
    const head = this.pendingHead;
    this.pendingHead = undefined;
    const ok = this.conn.write(head ? Buffer.concat([head, chunk]) : chunk);
    return ok ? undefined : this.conn.drained();
  }

  end(): void {
    this.ended = true;
    this.flushHead();
    this.onEnd();
  }

  abort(): void {
    this.ended = true;
    this.pendingHead = undefined;
    this.conn.reset();
  }

  complete(response: ResponseHead, body: Uint8Array | undefined): void {
    this.ended = true;
    this.onHead?.();
    this.withBody = bodyAllowed(this.method, response.status);
    this.onEnd(this.conn.closed ? undefined : httpResponse(response, this.withBody ? body : undefined));
  }

  onGone(listener: () => void): void {
    this.goneListener = listener;
    if (this.gone) listener();
  }

  /** The connection closed: before the response ended, that is the client going away. */
  connectionClosed(): void {
    if (this.ended || this.gone) return;
    this.gone = true;
    this.goneListener?.();
  }

  private flushHead(): void {
    const head = this.pendingHead;
    if (!head) return;
    this.pendingHead = undefined;
    this.conn.write(head);
  }
}

export function uwsgiSink(
  conn: GatewayConn,
  method: string,
  onEnd: (last?: Uint8Array) => void,
  onHead?: () => void,
): ResponseSink & { connectionClosed(): void } {
  return new UwsgiSink(conn, method, onEnd, onHead);
}
