// The HTTP/1.1 front-end: Node's own parser and keep-alive, the app called directly (Node
// listeners get the real req/res; fetch apps a lazily built Request), limits, harakiri and the
// request body's idle timeout applied here, one RequestRecord per request however it ended
// (answered, cut, the client gone, refused by the parser).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import { writeWebResponse } from '../app/fetch-dispatch.js';
import { requestFromIncoming } from '../app/lazy-request.js';
import { lightParts } from '../app/light-response.js';
import { clientClosedStatus, describeError } from '../errors.js';
import type { ConnectionContext } from '../protocol.js';
import type { Front } from '../worker/fronts.js';
import { socketFd } from '../worker/stall-watchdog.js';
import { FramedResponse } from './framed-response.js';
import { cutResponse, HttpSink, wasCut } from './http-sink.js';

export interface HttpFrontOptions {
  keepAliveMs: number;
}

function plainError(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    cutResponse(res);
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
  res.end(`${status} ${text}\n`);
}

/** Counts body bytes of a chunked request and stops it at limit-post. */
function enforceBodyLimit(
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
  ctx: ConnectionContext,
): boolean {
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    if (Number(declared) <= limit) return true;
    ctx.log(`${req.method} ${req.url}: request body of ${declared} bytes is over limit-post (${limit})`);
    plainError(res, 413, 'Content Too Large');
    return false;
  }
  if (req.headers['transfer-encoding'] === undefined) return true;
  // Chunked: the length is only known as bytes arrive. IncomingMessage receives them via push().
  let seen = 0;
  const push = req.push.bind(req);
  req.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (chunk !== null && typeof chunk === 'object' && 'length' in chunk) seen += (chunk as Buffer).length;
    if (seen > limit) {
      ctx.log(`${req.method} ${req.url}: chunked request body passed limit-post (${limit})`);
      plainError(res, 413, 'Content Too Large');
      req.destroy();
      return false;
    }
    return push(chunk, encoding);
  };
  return true;
}

/** Whether the request declares a body (a Content-Length above 0, or Transfer-Encoding). */
function hasBody(req: IncomingMessage): boolean {
  const { headers } = req;
  const length = headers['content-length'];
  return (length !== undefined && length !== '0') || headers['transfer-encoding'] !== undefined;
}

/**
 * Bounds the wait between request body bytes (socket-timeout): checked every `ms`, a request
 * whose socket read nothing for a whole period while the app could take more gets 408 (or, with
 * the head already out, a cut response), and a log line. A body the app does not read is not
 * the client's delay: then the socket is paused and the request's buffer full.
 */
function watchBody(req: IncomingMessage, res: ServerResponse, ms: number, ctx: ConnectionContext): void {
  const socket = req.socket;
  let seen = socket.bytesRead;
  const timer = setInterval(() => {
    if (req.complete || res.writableEnded || res.destroyed) {
      clearInterval(timer);
      return;
    }
    const now = socket.bytesRead;
    if (now !== seen || req.readableLength >= req.readableHighWaterMark) {
      seen = now;
      return;
    }
    clearInterval(timer);
    ctx.log(`${req.method} ${req.url}: no request body byte within ${ms} ms (socket-timeout)`);
    plainError(res, 408, 'Request Timeout');
  }, ms);
  res.once('close', () => clearInterval(timer));
}

/** Method and target of a request the parser refused, from its first bytes; empty when unreadable. */
function requestLineOf(raw: Buffer | undefined): { method: string; target: string } {
  const match = raw
    ? /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\//.exec(raw.subarray(0, 8192).toString('latin1'))
    : null;
  return { method: match?.[1] ?? '', target: match?.[2] ?? '' };
}

export interface HttpFront extends Front {
  server: Server;
  /**
   * Stop accepting and wind connections down without racing clients: busy connections answer
   * their current request with `Connection: close`; connections idle for a second are closed.
   * (http.Server#close would close idle keep-alive connections at once, and a client that just
   * sent its next request on one would see a reset.)
   */
  drain(onClosed?: () => void): void;
}

const idleSince = Symbol('pier.idleSince');
type TrackedSocket = Socket & { [idleSince]?: number };

export function createHttpFront(ctx: ConnectionContext, options: HttpFrontOptions): HttpFront {
  const { app, limits } = ctx;
  const server = createServer({
    maxHeaderSize: limits.bufferSize,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: 0,
    keepAliveTimeout: options.keepAliveMs,
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    // Checked in the request handler instead, so that the 400 is logged and recorded.
    requireHostHeader: false,
    ServerResponse: FramedResponse,
  });
  server.keepAliveTimeout = options.keepAliveMs;

  const record = (
    req: IncomingMessage,
    status: number,
    bytes: number,
    durationMs: number,
    socket: Socket,
  ): void => {
    ctx.onRequest({
      protocol: 'http',
      remoteAddress: socket.remoteAddress ?? '',
      method: req.method ?? '',
      target: req.url ?? '',
      status,
      bytes,
      durationMs,
      referer: (req.headers.referer as string | undefined) ?? '',
      userAgent: req.headers['user-agent'] ?? '',
    });
  };

  const sockets = new Set<TrackedSocket>();
  const busy = new Set<ServerResponse>();
  let draining = false;
  server.on('connection', (socket: TrackedSocket) => {
    socket[idleSince] = Date.now();
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const { watchdog } = ctx;
  const trackDeadline = (req: IncomingMessage, res: ServerResponse): void => {
    const timer = setTimeout(() => {
      ctx.log(`${req.method} ${req.url}: no response within ${limits.harakiriMs} ms (harakiri)`);
      plainError(res, 504, 'Gateway Timeout');
    }, limits.harakiriMs);
    const slot = watchdog ? watchdog.begin(socketFd(req.socket)) : -1;
    if (slot >= 0) {
      const writeHead = res.writeHead;
      res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
        watchdog?.headSent(slot);
        return writeHead.apply(this, args);
      } as ServerResponse['writeHead'];
    }
    res.once('close', () => {
      clearTimeout(timer);
      watchdog?.end(slot);
    });
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    const socket = req.socket as TrackedSocket;
    socket[idleSince] = 0;
    busy.add(res);
    if (draining) res.shouldKeepAlive = false;
    let sink: HttpSink | undefined;
    // 'close' comes whatever ended the response: one record each. A response never ended
    // (by the app or the server) lost its client.
    res.once('close', () => {
      busy.delete(res);
      socket[idleSince] = Date.now();
      const status = res.writableEnded || wasCut(res) ? res.statusCode : clientClosedStatus;
      const bytes = sink ? sink.bytes : Number(res.getHeader('content-length') ?? 0) || 0;
      record(req, status, bytes, performance.now() - started, socket);
    });
    // A late write after a 504 must not become an uncaught 'error' event.
    res.on('error', () => {});
    if (req.httpVersionMinor === 1 && req.headers.host === undefined) {
      ctx.log(
        `${req.method} ${req.url}: bad request: an HTTP/1.1 request without a Host header (RFC 9112 §3.2)`,
      );
      plainError(res, 400, 'Bad Request');
      return;
    }
    if (limits.limitPost > 0 && !enforceBodyLimit(req, res, limits.limitPost, ctx)) return;
    if (limits.bodyTimeoutMs > 0 && hasBody(req)) watchBody(req, res, limits.bodyTimeoutMs, ctx);
    if (limits.harakiriMs > 0) trackDeadline(req, res);
    if (app.kind === 'node') {
      try {
        app.listener(req, res);
      } catch (err) {
        ctx.log(`${req.method} ${req.url}: app error: ${describeError(err)}`);
        plainError(res, 500, 'Internal Server Error');
      }
      return;
    }
    const origin = `http://${req.headers.host ?? 'localhost'}`;
    const method = req.method ?? 'GET';
    sink = new HttpSink(res);
    const out = sink;
    Promise.resolve()
      .then(() => app.fetch(requestFromIncoming(req, origin)))
      .then((response) => {
        if (!(response instanceof Response))
          throw new TypeError(`the fetch handler returned ${typeof response}, not a Response`);
        if (res.headersSent || res.destroyed) {
          // Answered without the app (harakiri, 408), or the client left: release its body.
          if (!lightParts(response)) void response.body?.cancel().catch(() => {});
          return;
        }
        return writeWebResponse(response, method, out);
      })
      .catch((err: unknown) => {
        // The server answered already (408, 413, 504) or the client left: the app's failure
        // (often its body read, aborted) is no news.
        if (res.writableEnded || wasCut(res) || res.destroyed) return;
        ctx.log(`${req.method} ${req.url}: app error: ${describeError(err)}`);
        plainError(res, 500, 'Internal Server Error');
      });
  };
  server.on('request', onRequest);
  if (limits.limitPost > 0) {
    // RFC 9110 §10.1.1: when the head already decides against the body, answer at once instead
    // of inviting the client to send it with 100 Continue.
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      if (!(Number(req.headers['content-length'] ?? 0) > limits.limitPost)) res.writeContinue();
      onRequest(req, res);
    });
  }

  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const started = performance.now();
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const text =
      status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
    ctx.log(
      `http: ${status} from ${socket.remoteAddress ?? 'unix'}: ${err.code ?? ''} ${describeError(err)}`,
    );
    socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    const line = requestLineOf(err.rawPacket);
    ctx.onRequest({
      protocol: 'http',
      remoteAddress: socket.remoteAddress ?? '',
      method: line.method,
      target: line.target,
      status,
      bytes: 0,
      durationMs: performance.now() - started,
      referer: '',
      userAgent: '',
    });
  });

  const closeIdle = (): void => {
    const now = Date.now();
    for (const socket of sockets) {
      const since = socket[idleSince] ?? 0;
      if (since > 0 && now - since > 1000) socket.destroy();
    }
  };
  return {
    server,
    listen(handle, backlog) {
      server.listen(handle, backlog);
    },
    drain(onClosed) {
      if (draining) return;
      draining = true;
      if (onClosed) server.once('close', onClosed);
      for (const res of busy) if (!res.headersSent) res.shouldKeepAlive = false;
      // net.Server#close, not http.Server#close: stop accepting, leave keep-alive to the sweep.
      Reflect.apply(NetServer.prototype.close, server, []);
      const sweep = setInterval(closeIdle, 250);
      sweep.unref();
      server.once('close', () => clearInterval(sweep));
    },
  };
}
