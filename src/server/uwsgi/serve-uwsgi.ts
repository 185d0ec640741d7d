// The uwsgi front-end: owns one accepted connection, parses its one packet, runs the app and
// answers in raw HTTP, then closes (nginx never reuses uwsgi connections). Problems before the
// app runs are answered with their status when the peer can still read (400, 408, 413, 431),
// logged as one line, and never escape this connection.
import { performance } from 'node:perf_hooks';
import { dispatchThen, sendError } from '../app/dispatch.js';
import type { RequestHead } from '../app/request-head.js';
import { BadRequestError, describeError, statusOf } from '../errors.js';
import type { GatewayConn } from '../gateway/conn.js';
import { checkDeclaredBody, lazyGatewayHead, refusedHead } from '../gateway/gateway-head.js';
import { peerLabel } from '../gateway/peer-label.js';
import { RequestBody } from '../gateway/request-body.js';
import { type LoggedHead, requestRecord } from '../gateway/request-record.js';
import type { ConnectionContext, ServedConnection } from '../protocol.js';
import { type UwsgiEvent, UwsgiParser, type UwsgiVars } from './uwsgi-parser.js';
import { uwsgiSink } from './uwsgi-sink.js';

/** Serves the one request of `conn`; `onClosed` runs once the connection is gone. */
export function serveUwsgi(
  conn: GatewayConn,
  ctx: ConnectionContext,
  onClosed?: () => void,
): ServedConnection {
  const startedAt = performance.now();
  // Computed only for log lines: getpeername on every connection is measurable at nginx rates.
  let peerText: string | undefined;
  const peer = (): string => {
    peerText ??= peerLabel('uwsgi', conn.peer());
    return peerText;
  };
  let answering = false;
  let body: RequestBody | null = null;
  let sink: ReturnType<typeof uwsgiSink> | undefined;
  // The stall watchdog's slot for the request, once it runs; ended once (afterwards the slot may
  // already belong to another request).
  let slot = -1;
  const endSlot = (): void => {
    if (slot < 0) return;
    ctx.watchdog?.end(slot);
    slot = -1;
  };

  const close = (last?: Uint8Array): void => {
    body?.discard();
    body = null;
    // Once the whole packet is read the peer sends nothing more, and the connection can close
    // at once; otherwise unread bytes would turn the close into a reset.
    conn.finish(!parser.done, last);
  };

  /** Answers a request that never reached the app. */
  const refuse = (err: unknown, head: LoggedHead | null): void => {
    answering = true;
    const status = statusOf(err);
    ctx.log(`${peer()}: ${describeError(err)}`);
    if (conn.closed) {
      conn.destroy();
      return;
    }
    const method = head?.method ?? 'GET';
    const bytes = sendError(uwsgiSink(conn, method, close), status, describeError(err), method);
    ctx.onRequest(requestRecord('uwsgi', head, peer, { status, bytes }, startedAt));
  };

  /** `contentLength` is null for a chunked body. */
  const start = (vars: UwsgiVars, contentLength: number | null): void => {
    clearTimeout(headTimer);
    answering = true;
    let head: RequestHead;
    try {
      head = lazyGatewayHead(
        (name) => vars.lineVar(name),
        () => vars.pairs(),
        'uwsgi',
      );
    } catch (err) {
      refuse(err, refusedHead(vars.pairs()));
      return;
    }
    try {
      checkDeclaredBody(head, ctx.limits);
    } catch (err) {
      refuse(err, head);
      return;
    }
    if (contentLength !== 0) {
      body = new RequestBody({
        declared: contentLength,
        limitPost: ctx.limits.limitPost,
        idleMs: ctx.limits.bodyTimeoutMs,
        onDemand: () => conn.resume(),
      });
    }
    slot = ctx.watchdog
      ? ctx.watchdog.begin(conn.fd, -1, () =>
          requestRecord('uwsgi', head, peer, { status: 0, bytes: 0 }, startedAt),
        )
      : -1;
    sink = uwsgiSink(
      conn,
      head.method,
      (last) => {
        endSlot();
        close(last);
      },
      () => ctx.watchdog?.headSent(slot),
    );
    dispatchThen(
      ctx.app,
      head,
      body,
      sink,
      { log: (line) => ctx.log(`${peer()}: ${line}`), deadlineMs: ctx.limits.harakiriMs },
      (result) => ctx.onRequest(requestRecord('uwsgi', head, peer, result, startedAt)),
      (err: unknown) => {
        ctx.log(`${peer()}: ${describeError(err)}`);
        conn.destroy();
        ctx.onRequest(requestRecord('uwsgi', head, peer, { status: 500, bytes: 0 }, startedAt));
      },
    );
  };

  const onEvent = (event: UwsgiEvent): void => {
    switch (event.kind) {
      case 'request':
        start(event.vars, event.contentLength);
        return;
      case 'body':
        if (body && !body.feed(event.data)) conn.pause();
        return;
      case 'end':
        body?.finish();
        return;
      case 'error':
        // Once the app runs, a broken body reaches it through its body reads.
        if (body) body.fail(event.error);
        else if (event.error.code === 'UWSGI_EMPTY')
          conn.destroy(); // a port probe: no log
        else if (!answering) refuse(event.error, event.vars ? refusedHead(event.vars.pairs()) : null);
        return;
    }
  };

  const parser = new UwsgiParser(ctx.limits.bufferSize, onEvent);
  let headTimer: NodeJS.Timeout | undefined;
  let gone = false;

  conn.start({
    data(chunk) {
      try {
        parser.push(chunk);
      } catch (err) {
        ctx.log(`${peer()}: internal error: ${describeError(err)}`);
        conn.destroy();
      }
    },
    end: () => parser.end(),
    close() {
      gone = true;
      clearTimeout(headTimer);
      endSlot();
      // Before the body fails: a request whose client left is not a bad request.
      sink?.connectionClosed();
      if (body) {
        body.fail(
          new BadRequestError('CONNECTION_CLOSED', 'the connection closed before the request body was read'),
        );
      }
      onClosed?.();
    },
  });

  // A request that came whole with the connection has been answered already: a deadline for
  // the head only when it is still to come.
  if (!gone && !answering && !parser.headComplete) {
    headTimer = setTimeout(() => {
      if (parser.headComplete || answering) return;
      refuse(
        new BadRequestError(
          'HEADERS_TIMEOUT',
          `no complete uwsgi packet head within ${ctx.limits.headersTimeoutMs} ms`,
          408,
        ),
        null,
      );
    }, ctx.limits.headersTimeoutMs);
  }

  return oneRequest;
}

// A uwsgi connection carries exactly one request: it is never idle, and closes when done.
const oneRequest: ServedConnection = { idle: false, closeWhenIdle() {} };
