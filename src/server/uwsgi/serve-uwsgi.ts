// The uwsgi front-end: owns one accepted connection, parses its one packet, runs the app and
// answers in raw HTTP, then closes (nginx never reuses uwsgi connections). Problems before the
// app runs are answered with their status when the peer can still read (400, 408, 413, 431),
// logged as one line, and never escape this connection.
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { dispatch, sendError } from '../app/dispatch.js';
import type { RequestHead } from '../app/request-head.js';
import { BadRequestError, describeError, statusOf } from '../errors.js';
import { checkDeclaredBody, gatewayHead } from '../gateway/gateway-head.js';
import { peerLabel } from '../gateway/peer-label.js';
import { RequestBody } from '../gateway/request-body.js';
import { requestRecord } from '../gateway/request-record.js';
import { lingeringClose } from '../gateway/socket-write.js';
import type { ConnectionContext, ServedConnection } from '../protocol.js';
import { socketFd } from '../worker/stall-watchdog.js';
import { type UwsgiEvent, UwsgiParser } from './uwsgi-parser.js';
import { uwsgiSink } from './uwsgi-sink.js';

export function serveUwsgi(socket: Socket, ctx: ConnectionContext): ServedConnection {
  const startedAt = performance.now();
  // Computed only for log lines: getpeername on every connection is measurable at nginx rates.
  let peerText: string | undefined;
  const peer = (): string => {
    peerText ??= peerLabel('uwsgi', socket);
    return peerText;
  };
  let answering = false;
  let body: RequestBody | null = null;
  // A peer that half-closes after its packet still gets the response.
  socket.allowHalfOpen = true;

  const close = (): void => {
    body?.discard();
    body = null;
    lingeringClose(socket);
  };

  /** Answers a request that never reached the app. */
  const refuse = (err: unknown, head: RequestHead | null): void => {
    answering = true;
    const status = statusOf(err);
    ctx.log(`${peer()}: ${describeError(err)}`);
    if (socket.destroyed || !socket.writable) {
      socket.destroy();
      return;
    }
    sendError(uwsgiSink(socket, head?.method ?? 'GET', close), status, describeError(err));
    ctx.onRequest(requestRecord('uwsgi', head, peer(), { status, bytes: 0 }, startedAt));
  };

  const start = (vars: Array<[string, string]>, contentLength: number): void => {
    clearTimeout(headTimer);
    answering = true;
    let head: RequestHead;
    try {
      head = gatewayHead(vars, 'uwsgi');
    } catch (err) {
      refuse(err, null);
      return;
    }
    try {
      checkDeclaredBody(head, ctx.limits);
    } catch (err) {
      refuse(err, head);
      return;
    }
    if (contentLength > 0) {
      body = new RequestBody({
        declared: contentLength,
        limitPost: ctx.limits.limitPost,
        onDemand: () => socket.resume(),
      });
    }
    const slot = ctx.watchdog ? ctx.watchdog.begin(socketFd(socket)) : -1;
    let slotEnded = false;
    // Ends once: after end() the slot may already belong to another request.
    const ended = (): void => {
      if (slotEnded) return;
      slotEnded = true;
      ctx.watchdog?.end(slot);
    };
    if (slot >= 0) socket.once('close', ended);
    const sink = uwsgiSink(
      socket,
      head.method,
      () => {
        ended();
        close();
      },
      () => ctx.watchdog?.headSent(slot),
    );
    dispatch(ctx.app, head, body, sink, {
      log: (line) => ctx.log(`${peer()}: ${line}`),
      deadlineMs: ctx.limits.harakiriMs,
    }).then(
      (result) => ctx.onRequest(requestRecord('uwsgi', head, peer(), result, startedAt)),
      (err: unknown) => {
        ctx.log(`${peer()}: ${describeError(err)}`);
        socket.destroy();
      },
    );
  };

  const onEvent = (event: UwsgiEvent): void => {
    switch (event.kind) {
      case 'request':
        start(event.vars, event.contentLength);
        return;
      case 'body':
        if (body && !body.feed(event.data)) socket.pause();
        return;
      case 'end':
        body?.finish();
        return;
      case 'error':
        // Once the app runs, a broken body reaches it through its body reads.
        if (body) body.fail(event.error);
        else if (event.error.code === 'UWSGI_EMPTY')
          socket.destroy(); // a port probe: no log
        else if (!answering) refuse(event.error, null);
        return;
    }
  };

  const parser = new UwsgiParser(ctx.limits.bufferSize, onEvent);
  const headTimer = setTimeout(() => {
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

  socket.on('data', (chunk: Buffer) => {
    try {
      parser.push(chunk);
    } catch (err) {
      ctx.log(`${peer()}: internal error: ${describeError(err)}`);
      socket.destroy();
    }
  });
  socket.on('end', () => parser.end());
  socket.on('error', () => {}); // resets and EPIPEs end the connection; 'close' cleans up
  socket.on('close', () => {
    clearTimeout(headTimer);
    if (body) {
      body.fail(
        new BadRequestError('CONNECTION_CLOSED', 'the connection closed before the request body was read'),
      );
    }
  });

  return {
    // A uwsgi connection carries exactly one request: it is never idle, and closes when done.
    get idle() {
      return false;
    },
    closeWhenIdle() {},
  };
}
