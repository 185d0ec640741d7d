// One FastCGI request on its connection: from BEGIN_REQUEST to the app's response. It builds the
// head from PARAMS, feeds STDIN into the app's body stream, runs the app, and answers requests
// that never reach the app (bad params, limits, timeouts) with their status. The connection
// writes END_REQUEST and decides keep or close when `host.finished` is called.
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { dispatchThen, sendError } from '../app/dispatch.js';
import type { RequestHead } from '../app/request-head.js';
import { BadRequestError, clientClosedStatus, describeError, statusOf } from '../errors.js';
import { checkDeclaredBody, gatewayHead, refusedHead } from '../gateway/gateway-head.js';
import { RequestBody } from '../gateway/request-body.js';
import { type LoggedHead, requestRecord } from '../gateway/request-record.js';
import type { ConnectionContext } from '../protocol.js';
import { socketFd } from '../worker/stall-watchdog.js';
import { FastcgiResponse } from './fastcgi-response.js';

export interface RequestHost {
  readonly socket: Socket;
  readonly ctx: ConnectionContext;
  /** `fastcgi ADDRESS:PORT`, the prefix of every log line. */
  readonly peer: string;
  finished(request: FastcgiRequest, outcome: 'end' | 'abort'): void;
}

export class FastcgiRequest {
  keepConn = false;
  /** Its record stream is broken: the connection is not reused after it. */
  broken = false;
  private head: RequestHead | null = null;
  /** What the access log shows: the head, or the unchecked line of a refused one. */
  private logged: LoggedHead | null = null;
  private body: RequestBody | null = null;
  private response: FastcgiResponse | null = null;
  private aborted = false;
  private done = false;
  private readonly startedAt = performance.now();
  /** This request's slot in the stall watchdog (harakiri), or -1. */
  private watchdogSlot = -1;

  constructor(
    readonly id: number,
    private readonly host: RequestHost,
  ) {}

  /** The head is complete (PARAMS ended) or the request already answered. */
  get headComplete(): boolean {
    return this.response !== null;
  }

  start(params: Array<[string, string]>, keepConn: boolean): void {
    this.keepConn = keepConn;
    const { ctx, socket } = this.host;
    let head: RequestHead;
    try {
      head = gatewayHead(params, 'fastcgi');
      this.head = head;
      this.logged = head;
      checkDeclaredBody(head, ctx.limits);
    } catch (err) {
      this.logged ??= refusedHead(params);
      this.refuse(err);
      return;
    }
    // STDIN records frame the body with or without CONTENT_LENGTH (a chunked upload comes
    // de-chunked and ends at the empty record), so a FastCGI body's end is always known.
    this.body = new RequestBody({
      declared: head.contentLength,
      limitPost: ctx.limits.limitPost,
      idleMs: ctx.limits.bodyTimeoutMs,
      onDemand: () => socket.resume(),
    });
    this.response = this.newResponse(head.method);
    this.watchdogSlot = ctx.watchdog
      ? ctx.watchdog.begin(socketFd(socket), this.id, () =>
          requestRecord(
            'fastcgi',
            this.logged,
            () => this.host.peer,
            { status: 0, bytes: 0 },
            this.startedAt,
          ),
        )
      : -1;
    dispatchThen(
      ctx.app,
      head,
      head.contentLength === 0 ? null : this.body,
      this.response,
      { log: (line) => ctx.log(`${this.host.peer}: ${line}`), deadlineMs: ctx.limits.harakiriMs },
      (result) => this.record(this.aborted ? { status: clientClosedStatus, bytes: result.bytes } : result),
      (err: unknown) => {
        ctx.log(`${this.host.peer}: ${describeError(err)}`);
        socket.destroy();
        this.record({ status: 500, bytes: 0 });
      },
    );
  }

  /** STDIN bytes; false when the app is behind and the socket should pause. */
  stdin(data: Buffer): boolean {
    return this.body ? this.body.feed(data) : true;
  }

  stdinEnd(): void {
    this.body?.finish();
  }

  /** Answers with the error's status without running the app. */
  refuse(err: unknown): void {
    if (this.response) return;
    const status = statusOf(err);
    this.host.ctx.log(`${this.host.peer}: ${describeError(err)}`);
    const method = this.logged?.method ?? 'GET';
    this.response = this.newResponse(method);
    this.record({ status, bytes: sendError(this.response, status, describeError(err), method) });
  }

  /** A protocol error on the connection: the app learns through its body, else we answer. */
  fail(error: BadRequestError): void {
    if (this.body && this.head?.contentLength !== 0) this.body.fail(error);
    else if (this.response) this.host.ctx.log(`${this.host.peer}: ${describeError(error)}`);
    else this.refuse(error);
  }

  /** ABORT_REQUEST: stop the app's body and response, end the request now. */
  abort(): void {
    this.aborted = true;
    this.response?.clientGone();
    this.body?.fail(
      new BadRequestError('REQUEST_ABORTED', 'the web server aborted the request', clientClosedStatus),
    );
    this.response?.cancel();
    this.response ??= this.newResponse('GET');
    this.finish('end');
  }

  /** The connection closed under the request. */
  closed(): void {
    this.response?.clientGone();
    this.body?.fail(
      new BadRequestError('CONNECTION_CLOSED', 'the connection closed before the request body was read'),
    );
  }

  private newResponse(method: string): FastcgiResponse {
    return new FastcgiResponse(
      this.host.socket,
      this.id,
      method,
      (outcome) => this.finish(outcome),
      () => this.host.ctx.watchdog?.headSent(this.watchdogSlot),
    );
  }

  private finish(outcome: 'end' | 'abort'): void {
    if (this.done) return;
    this.done = true;
    this.host.ctx.watchdog?.end(this.watchdogSlot);
    this.watchdogSlot = -1;
    this.body?.discard();
    this.host.finished(this, outcome);
  }

  private record(result: { status: number; bytes: number }): void {
    this.host.ctx.onRequest(
      requestRecord('fastcgi', this.logged, () => this.host.peer, result, this.startedAt),
    );
  }
}
