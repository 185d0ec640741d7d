// The ResponseSink of one FastCGI request: a CGI-style head and the body, both inside STDOUT
// records of that request id. Ending or aborting is the connection's business (END_REQUEST,
// keep or close), reported through `done`; after `cancel` (ABORT_REQUEST) writes are dropped.
// A connection closed (or a request aborted) before the end is the client gone, see onGone.
import type { Socket } from 'node:net';
import { bodyAllowed } from '../app/body-allowed.js';
import type { ResponseSink } from '../app/response-sink.js';
import { writeAll } from '../gateway/socket-write.js';
import { cgiHead } from './cgi-head.js';
import { stdoutRecords } from './record-writer.js';

export class FastcgiResponse implements ResponseSink {
  private withBody = true;
  private cancelled = false;
  // The response ended (end, abort); before that, a closed connection or ABORT_REQUEST means the
  // client went away.
  private ended = false;
  private gone = false;
  private goneListener: (() => void) | undefined;
  headSent = false;

  constructor(
    private readonly socket: Socket,
    private readonly requestId: number,
    private readonly method: string,
    private readonly done: (outcome: 'end' | 'abort') => void,
    private readonly onHead?: () => void,
  ) {}

  head(head: Parameters<ResponseSink['head']>[0]): void {
    if (this.cancelled) return;
    this.headSent = true;
    this.onHead?.();
    this.withBody = bodyAllowed(this.method, head.status);
    // Corked until the next tick so the head and the first body bytes leave in one packet.
    this.socket.cork();
    writeAll(this.socket, stdoutRecords(this.requestId, cgiHead(head)));
    process.nextTick(() => this.socket.uncork());
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    if (this.cancelled || !this.withBody || chunk.length === 0) return undefined;
    return writeAll(this.socket, stdoutRecords(this.requestId, chunk));
  }

  /**
   * A whole response (head, body, end) in one write. `body` is already what the method and
   * status allow (see wholeResponse).
   */
  complete(head: Parameters<ResponseSink['head']>[0], body: Uint8Array | undefined): void {
    if (this.cancelled) return;
    this.headSent = true;
    this.onHead?.();
    const records = stdoutRecords(this.requestId, cgiHead(head));
    if (body && body.length > 0) records.push(...stdoutRecords(this.requestId, body));
    // The end's records (empty STDOUT, END_REQUEST) join these in the same segment.
    this.socket.cork();
    writeAll(this.socket, records);
    this.end();
    this.socket.uncork();
  }

  end(): void {
    this.ended = true;
    if (!this.cancelled) this.done('end');
  }

  abort(): void {
    this.ended = true;
    if (!this.cancelled) this.done('abort');
  }

  onGone(listener: () => void): void {
    this.goneListener = listener;
    if (this.gone) listener();
  }

  /** The connection closed or the web server aborted the request: the client went away. */
  clientGone(): void {
    if (this.ended || this.gone) return;
    this.gone = true;
    this.goneListener?.();
  }

  cancel(): void {
    this.cancelled = true;
  }
}
