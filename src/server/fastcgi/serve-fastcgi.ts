// The FastCGI front-end: owns one accepted connection and answers its requests one at a time
// as a responder. Without KEEP_CONN the connection closes after END_REQUEST; with it
// (nginx `fastcgi_keep_conn on`) it waits for the next BEGIN_REQUEST, and only the web server
// closes it: a worker that stops hands such a connection, between two requests, to another
// worker (gateway/socket-handoff.ts), because a close races nginx, which may already be sending
// the next request on it. Problems are logged as one line, answered with their status when the
// request id is known, and never escape this connection.
import type { Socket } from 'node:net';
import { BadRequestError, describeError } from '../errors.js';
import { peerLabel } from '../gateway/peer-label.js';
import { detachHandle } from '../gateway/socket-handoff.js';
import { lingeringClose, writeAll } from '../gateway/socket-write.js';
import type { ConnectionContext, HandOff, ServedConnection } from '../protocol.js';
import { type FastcgiEvent, FastcgiParser } from './fastcgi-parser.js';
import { ProtocolStatus } from './fastcgi-record.js';
import { FastcgiRequest, type RequestHost } from './fastcgi-request.js';
import {
  endRequestRecord,
  getValuesResultRecord,
  stdoutRecords,
  unknownTypeRecord,
} from './record-writer.js';

const noBytes = new Uint8Array(0);

class FastcgiConnection implements ServedConnection, RequestHost {
  readonly peer: string;
  private readonly parser: FastcgiParser;
  private current: FastcgiRequest | null = null;
  private headTimer: NodeJS.Timeout | undefined;
  /** closeWhenIdle was called: close (or hand on) after the current request. */
  private closing = false;
  /** Where a kept connection goes instead of being closed, once closing and idle. */
  private handOff: HandOff | undefined;
  /** The connection is closing: what the peer still sends or does no longer matters. */
  private over = false;
  /** Requests answered on this connection. */
  private served = 0;
  /** The parser is working through a chunk: events for the current request may still follow. */
  private parsing = false;
  /** Answered while its own records were being parsed; kept or closed once the chunk is done. */
  private answered: FastcgiRequest | null = null;

  constructor(
    readonly socket: Socket,
    readonly ctx: ConnectionContext,
    adopted: boolean,
  ) {
    this.peer = peerLabel('fastcgi', { address: socket.remoteAddress, port: socket.remotePort });
    this.parser = new FastcgiParser(ctx.limits.bufferSize, (event) => this.onEvent(event));
    // A peer that half-closes after its request still gets the response.
    socket.allowHalfOpen = true;
    // Responses leave in a few writes; Nagle would hold the last one back for the peer's delayed ACK.
    socket.setNoDelay(true);
    // A connection another worker handed on is one the web server keeps: idle until it sends.
    if (adopted) this.served = 1;
    else this.armHeadTimer();
    socket.on('data', (chunk: Buffer) => {
      if (this.idle) this.armHeadTimer();
      this.parsing = true;
      try {
        this.parser.push(chunk);
      } catch (err) {
        ctx.log(`${this.peer}: internal error: ${describeError(err)}`);
        socket.destroy();
      } finally {
        this.parsing = false;
      }
      const answered = this.answered;
      if (answered) {
        this.answered = null;
        this.keepOrClose(answered);
      } else if (this.closing && !this.current && this.parser.buffered === 0 && !this.over) {
        // Only records of a released request arrived (ignored): nothing is pending.
        this.disarmHeadTimer();
        this.leave();
      }
    });
    socket.on('end', () => {
      if (this.over) return;
      this.parser.end();
      if (!this.current) socket.end();
    });
    socket.on('error', () => {}); // resets and EPIPEs end the connection; 'close' cleans up
    socket.on('close', () => {
      clearTimeout(this.headTimer);
      this.current?.closed();
    });
  }

  get idle(): boolean {
    return this.current === null && this.headTimer === undefined;
  }

  closeWhenIdle(handOff?: HandOff): void {
    this.closing = true;
    this.handOff = handOff;
    if (this.idle) this.leave();
  }

  finished(request: FastcgiRequest, outcome: 'end' | 'abort'): void {
    if (outcome === 'abort') {
      // A reset, not a close: nginx 1.22 takes a plain close after the head as the end of the
      // response (END_REQUEST or not) and would pass the cut response on as complete.
      this.over = true;
      if (!this.socket.destroyed) this.socket.resetAndDestroy();
      return;
    }
    writeAll(this.socket, [
      ...stdoutRecords(request.id, new Uint8Array(0)),
      endRequestRecord(request.id, 0, ProtocolStatus.RequestComplete),
    ]);
    this.served++;
    // A handler that answers at once does so from inside the parser, while the chunk that
    // carried the request still holds its empty STDIN: deciding now would see a body still in
    // flight and close a connection the web server means to reuse.
    if (this.parsing) this.answered = request;
    else this.keepOrClose(request);
  }

  /** After END_REQUEST: wait for the next request, or close. */
  private keepOrClose(request: FastcgiRequest): void {
    this.parser.release(request.id);
    this.current = null;
    // A request answered before its STDIN ended (refused at its head, or an app that did not
    // read its body) may leave records in flight: released, its id is inactive and the parser
    // ignores them, as the spec asks, so the connection stays. Closing it instead races the web
    // server, which may already have picked it for the next request: nginx retries a GET
    // elsewhere, but answers a POST with 502.
    const keep = request.keepConn && !request.broken;
    if (!keep || this.socket.readableEnded) this.close();
    else if (this.closing) this.leave();
    else this.socket.resume();
  }

  /**
   * Closing, and no request in progress: a connection the web server keeps goes to `handOff`
   * once its last response has left (its socket's write queue is empty), else it closes.
   */
  private leave(): void {
    const handOff = this.handOff;
    if (!handOff || this.served === 0) {
      this.close();
      return;
    }
    if (this.parser.buffered > 0 || this.socket.readableLength > 0) {
      // The next request's first bytes, read already: it is answered here, then this again.
      this.armHeadTimer();
      this.socket.resume();
      return;
    }
    if (this.socket.writableLength > 0) {
      // Its last response is still on its way out. Writes complete in order, so an empty one's
      // callback says when it has left ('drain' comes only after a write that filled the buffer).
      this.socket.write(noBytes, () => {
        if (!this.over && !this.current) this.leave();
      });
      return;
    }
    const handle = detachHandle(this.socket);
    if (!handle) {
      this.close();
      return;
    }
    this.over = true;
    handOff(handle);
  }

  private close(): void {
    this.over = true;
    lingeringClose(this.socket);
  }

  private armHeadTimer(): void {
    clearTimeout(this.headTimer);
    this.headTimer = setTimeout(() => this.onHeadTimeout(), this.ctx.limits.headersTimeoutMs);
  }

  private disarmHeadTimer(): void {
    clearTimeout(this.headTimer);
    this.headTimer = undefined;
  }

  private onHeadTimeout(): void {
    this.headTimer = undefined;
    const current = this.current;
    if (current?.headComplete) return;
    if (!current && this.parser.buffered === 0) {
      // Nothing pending: a kept connection between requests stays (nginx holds it in its pool),
      // unless it is being drained or never carried a request at all.
      if (this.served === 0) this.close();
      else if (this.closing) this.leave();
      return;
    }
    const message = `no complete FastCGI request head within ${this.ctx.limits.headersTimeoutMs} ms`;
    if (current) {
      current.refuse(new BadRequestError('HEADERS_TIMEOUT', message, 408));
      return;
    }
    this.ctx.log(`${this.peer}: ${message}`);
    this.over = true;
    this.socket.destroy();
  }

  private onEvent(event: FastcgiEvent): void {
    const current = this.current;
    switch (event.kind) {
      case 'begin':
        this.current = new FastcgiRequest(event.requestId, this);
        return;
      case 'request':
        this.disarmHeadTimer();
        current?.start(event.params, event.keepConn);
        return;
      case 'stdin':
        if (current && !current.stdin(event.data)) this.socket.pause();
        return;
      case 'stdin-end':
        current?.stdinEnd();
        return;
      case 'abort':
        this.disarmHeadTimer();
        current?.abort();
        return;
      case 'refuse':
        writeAll(this.socket, [endRequestRecord(event.requestId, 0, event.protocolStatus)]);
        return;
      case 'get-values': {
        // Only what pier knows for sure: one request at a time per connection.
        const known = event.names.filter((name) => name === 'FCGI_MPXS_CONNS');
        writeAll(this.socket, [getValuesResultRecord(known.map((name) => [name, '0']))]);
        return;
      }
      case 'unknown-type':
        writeAll(this.socket, [unknownTypeRecord(event.type)]);
        return;
      case 'error':
        this.onError(event.error, event.requestId);
        return;
    }
  }

  private onError(error: BadRequestError, requestId: number | undefined): void {
    const current = this.current;
    if (current && current.id === requestId) {
      this.disarmHeadTimer();
      current.broken = true; // never reuse the connection
      current.fail(error);
      return;
    }
    this.ctx.log(`${this.peer}: ${describeError(error)}`);
    this.over = true;
    this.socket.destroy();
  }
}

/**
 * Serves FastCGI on an accepted connection. `adopted`: the connection comes from another worker
 * (socket-handoff.ts), kept by the web server between requests, so it waits for the next
 * request without the head timeout that a new connection gets.
 */
export function serveFastcgi(socket: Socket, ctx: ConnectionContext, adopted = false): ServedConnection {
  return new FastcgiConnection(socket, ctx, adopted);
}
