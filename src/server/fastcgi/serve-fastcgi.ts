// The FastCGI front-end: owns one accepted connection and answers its requests one at a time
// as a responder. Without KEEP_CONN the connection closes after END_REQUEST; with it
// (nginx `fastcgi_keep_conn on`) it waits for the next BEGIN_REQUEST. Problems before the app
// runs are answered with their status when the request id is known, logged as one line, and
// never escape this connection.
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { dispatch, sendError } from '../app/dispatch.js';
import type { RequestHead } from '../app/request-head.js';
import { BadRequestError, describeError, statusOf } from '../errors.js';
import { checkDeclaredBody, gatewayHead } from '../gateway/gateway-head.js';
import { RequestBody } from '../gateway/request-body.js';
import { requestRecord } from '../gateway/request-record.js';
import { lingeringClose, writeAll } from '../gateway/socket-write.js';
import type { ConnectionContext, ServedConnection } from '../protocol.js';
import { type FastcgiEvent, FastcgiParser } from './fastcgi-parser.js';
import { ProtocolStatus } from './fastcgi-record.js';
import { FastcgiResponse } from './fastcgi-response.js';
import {
  endRequestRecord,
  getValuesResultRecord,
  stdoutRecords,
  unknownTypeRecord,
} from './record-writer.js';

interface Current {
  id: number;
  keepConn: boolean;
  stdinEnded: boolean;
  head: RequestHead | null;
  body: RequestBody | null;
  response: FastcgiResponse | null;
  finished: boolean;
  aborted: boolean;
}

/** nginx records a request whose client went away as 499; so do we. */
const clientClosed = 499;

class FastcgiConnection implements ServedConnection {
  private readonly parser: FastcgiParser;
  private readonly peer: string;
  private current: Current | null = null;
  private headTimer: NodeJS.Timeout | undefined;
  private startedAt = performance.now();
  private closing = false;
  private broken = false;

  constructor(
    private readonly socket: Socket,
    private readonly ctx: ConnectionContext,
  ) {
    this.peer = `${socket.remoteAddress ?? 'unix'}${socket.remotePort ? `:${socket.remotePort}` : ''}`;
    this.parser = new FastcgiParser(ctx.limits.bufferSize, (event) => this.onEvent(event));
    // A peer that half-closes after its request still gets the response.
    socket.allowHalfOpen = true;
    this.armHeadTimer();
    socket.on('data', (chunk: Buffer) => {
      if (this.idle) this.armHeadTimer();
      try {
        this.parser.push(chunk);
      } catch (err) {
        this.ctx.log(`fastcgi ${this.peer}: internal error: ${describeError(err)}`);
        socket.destroy();
      }
    });
    socket.on('end', () => {
      this.parser.end();
      if (!this.current) socket.end();
    });
    socket.on('error', () => {}); // resets and EPIPEs end the connection; 'close' cleans up
    socket.on('close', () => {
      clearTimeout(this.headTimer);
      this.current?.body?.fail(
        new BadRequestError('CONNECTION_CLOSED', 'the connection closed before the request body was read'),
      );
    });
  }

  get idle(): boolean {
    return this.current === null && this.headTimer === undefined;
  }

  closeWhenIdle(): void {
    this.closing = true;
    if (this.idle) lingeringClose(this.socket);
  }

  private armHeadTimer(): void {
    this.startedAt = performance.now();
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
    if (current?.response || (!current && this.parser.buffered === 0)) return; // idle again
    const error = new BadRequestError(
      'HEADERS_TIMEOUT',
      `no complete FastCGI request head within ${this.ctx.limits.headersTimeoutMs} ms`,
      408,
    );
    this.broken = true;
    if (current) this.refuse(current, error);
    else {
      this.ctx.log(`fastcgi ${this.peer}: ${error.message}`);
      this.socket.destroy();
    }
  }

  private onEvent(event: FastcgiEvent): void {
    const current = this.current;
    switch (event.kind) {
      case 'begin':
        this.current = {
          id: event.requestId,
          keepConn: false,
          stdinEnded: false,
          head: null,
          body: null,
          response: null,
          finished: false,
          aborted: false,
        };
        return;
      case 'request':
        if (current) this.start(current, event.params, event.keepConn);
        return;
      case 'stdin':
        if (current?.body && !current.body.feed(event.data)) this.socket.pause();
        return;
      case 'stdin-end':
        if (current) current.stdinEnded = true;
        current?.body?.finish();
        return;
      case 'abort':
        if (current) this.abort(current);
        return;
      case 'refuse':
        writeAll(this.socket, [endRequestRecord(event.requestId, 0, event.protocolStatus)]);
        return;
      case 'get-values': {
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

  private start(current: Current, params: Array<[string, string]>, keepConn: boolean): void {
    this.disarmHeadTimer();
    current.keepConn = keepConn;
    let head: RequestHead;
    try {
      head = gatewayHead(params, 'fastcgi');
      current.head = head;
      checkDeclaredBody(head, this.ctx.limits);
    } catch (err) {
      this.refuse(current, err);
      return;
    }
    const body = new RequestBody({
      declared: head.contentLength,
      limitPost: this.ctx.limits.limitPost,
      onDemand: () => this.socket.resume(),
    });
    current.body = body;
    const response = new FastcgiResponse(this.socket, current.id, head.method, (outcome) =>
      this.finish(current, outcome),
    );
    current.response = response;
    dispatch(this.ctx.app, head, head.contentLength === 0 ? null : body, response, {
      log: (line) => this.ctx.log(`fastcgi ${this.peer}: ${line}`),
      deadlineMs: this.ctx.limits.harakiriMs,
    }).then(
      (result) =>
        this.record(current, current.aborted ? { status: clientClosed, bytes: result.bytes } : result),
      (err: unknown) => {
        this.ctx.log(`fastcgi ${this.peer}: ${describeError(err)}`);
        this.socket.destroy();
      },
    );
  }

  /** Answers a request that never reached the app, then closes the connection. */
  private refuse(current: Current, err: unknown): void {
    this.disarmHeadTimer();
    this.broken = true;
    const status = statusOf(err);
    this.ctx.log(`fastcgi ${this.peer}: ${describeError(err)}`);
    const response = new FastcgiResponse(this.socket, current.id, current.head?.method ?? 'GET', (outcome) =>
      this.finish(current, outcome),
    );
    current.response = response;
    sendError(response, status, describeError(err));
    this.record(current, { status, bytes: 0 });
  }

  private abort(current: Current): void {
    current.aborted = true;
    current.body?.fail(
      new BadRequestError('REQUEST_ABORTED', 'the web server aborted the request', clientClosed),
    );
    current.response?.cancel();
    if (!current.response) this.disarmHeadTimer();
    this.finish(current, 'end');
  }

  private onError(error: BadRequestError, requestId: number | undefined): void {
    this.broken = true;
    const current = this.current;
    if (current?.body) {
      current.body.fail(error); // the app sees it through its body reads
      return;
    }
    if (current && current.id === requestId && !current.response) {
      this.refuse(current, error);
      return;
    }
    this.ctx.log(`fastcgi ${this.peer}: ${describeError(error)}`);
    this.socket.destroy();
  }

  private finish(current: Current, outcome: 'end' | 'abort'): void {
    if (current.finished) return;
    current.finished = true;
    current.body?.discard();
    if (outcome === 'abort') {
      // No END_REQUEST: nginx sees the connection reset and does not pass a cut response on as whole.
      if (!this.socket.destroyed) this.socket.resetAndDestroy();
      return;
    }
    writeAll(this.socket, [
      ...stdoutRecords(current.id, new Uint8Array(0)),
      endRequestRecord(current.id, 0, ProtocolStatus.RequestComplete),
    ]);
    this.parser.release(current.id);
    this.current = null;
    const keep = current.keepConn && current.stdinEnded && !this.closing && !this.broken;
    if (keep && !this.socket.readableEnded) this.socket.resume();
    else lingeringClose(this.socket);
  }

  private record(current: Current, result: { status: number; bytes: number }): void {
    this.ctx.onRequest(requestRecord('fastcgi', current.head, this.peer, result, this.startedAt));
  }
}

export function serveFastcgi(socket: Socket, ctx: ConnectionContext): ServedConnection {
  return new FastcgiConnection(socket, ctx);
}
