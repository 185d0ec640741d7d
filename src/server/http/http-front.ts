// The HTTP/1.1 front-end: Node's own parser and keep-alive, the app called directly (Node
// listeners get the real req/res; fetch apps a lazily built Request), limits, harakiri and the
// request body's idle timeout applied here, one RequestRecord per request however it ended
// (answered, cut, the client gone, refused by the parser).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import { bodyAllowed } from '../app/body-allowed.js';
import { writeWebResponse } from '../app/fetch-dispatch.js';
import { isThenable, watchListenerResult } from '../app/handler.js';
import { requestFromIncoming } from '../app/lazy-request.js';
import { lengthChecked } from '../app/length-check.js';
import { isLightResponse, lightFlat } from '../app/light-response.js';
import { badHostMessage, isValidHost } from '../app/request-url.js';
import { clientClosedStatus, describeError } from '../errors.js';
import { closeHandle } from '../gateway/socket-handoff.js';
import { lingeringClose } from '../gateway/socket-write.js';
import type { ConnectionContext } from '../protocol.js';
import type { Front } from '../worker/fronts.js';
import { socketFd } from '../worker/stall-watchdog.js';
import { FramedResponse } from './framed-response.js';
import { cutResponse, HttpSink, rememberPeer, wasCut, writeWhole } from './http-sink.js';

export interface HttpFrontOptions {
  keepAliveMs: number;
}

function plainError(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    cutResponse(res);
    return;
  }
  // The status line says what the body says: RFC 9110's phrase (413 "Content Too Large"), where
  // node:http 20 still has RFC 7231's ("Payload Too Large").
  const body = `${status} ${text}\n`;
  res.writeHead(status, text, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  res.end(body);
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
    // The client is still sending the body: closing at once with its bytes unread makes the
    // kernel answer them with a reset, which can destroy the 413 before the client (nginx
    // behind proxy_pass: 3 times in 12 here) reads it. The body is read and dropped for a while
    // after the answer, as nginx's own lingering_close does.
    const { socket } = req;
    socket.destroySoon = () => lingeringClose(socket);
    plainError(res, 413, 'Content Too Large');
    return false;
  }
  if (req.headers['transfer-encoding'] === undefined) return true;
  // Chunked: the length is only known as bytes arrive. IncomingMessage receives them via push().
  let seen = 0;
  let refused = false;
  const push = req.push.bind(req);
  req.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    // Chunks the parser had already taken from the same read arrive after the refusal.
    if (refused) return false;
    if (chunk !== null && typeof chunk === 'object' && 'length' in chunk) seen += (chunk as Buffer).length;
    if (seen > limit) {
      refused = true;
      ctx.log(`${req.method} ${req.url}: chunked request body passed limit-post (${limit})`);
      rememberPeer(req.socket);
      plainError(res, 413, 'Content Too Large');
      req.destroy();
      return false;
    }
    return push(chunk, encoding);
  };
  return true;
}

/** Whether the request declares a body (a Content-Length above 0, or Transfer-Encoding). */
/**
 * Why a request must be refused with 400 before the app sees it (RFC 9112 §3.2, §3.2.2), or
 * undefined: an HTTP/1.1 request without a Host, with more than one, or with one that is not a
 * host[:port]; a target that is neither origin-form, `*`, nor an absolute http(s) URL.
 */
let lastValidHost = '';

function badTargetOrHost(req: IncomingMessage): string | undefined {
  const host = req.headers.host;
  if (host === undefined) {
    return req.httpVersionMinor === 1
      ? 'an HTTP/1.1 request without a Host header (RFC 9112 §3.2)'
      : undefined;
  }
  if (host !== lastValidHost && host !== '') {
    if (!isValidHost(host)) return badHostMessage(host);
    // Clients send the same Host request after request: checked once while it repeats.
    lastValidHost = host;
  }
  // node:http keeps the first of repeated Host lines; RFC 9112 §3.2 says refuse them.
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host' && ++hosts > 1)
      return 'more than one Host header (RFC 9112 §3.2)';
  }
  const target = req.url ?? '/';
  if (target.charCodeAt(0) === 47 /* / */ || target === '*') return undefined;
  return absoluteTargetProblem(target);
}

/** Why an absolute-form target cannot be taken (RFC 9112 §3.2.2), or undefined. */
function absoluteTargetProblem(target: string): string | undefined {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return `request target ${JSON.stringify(target)} is not a path, "*" or an absolute URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `request target ${JSON.stringify(target)} is not an http or https URL`;
  return undefined;
}

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

/** Bytes of a body chunk as write() and end() take it (a string in `encoding`, default UTF-8). */
function byteLengthOf(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string')
    return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  return chunk instanceof Uint8Array ? chunk.byteLength : 0;
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

// Per connection: requests in flight (pipelined ones count each) and when the last one ended.
const inFlight = Symbol('pier.inFlight');
const idleSince = Symbol('pier.idleSince');
type TrackedSocket = Socket & { [inFlight]: number; [idleSince]: number };

// An 'error' listener that does nothing: a late write after a 504 must not become an uncaught
// 'error' event. One function shared by every response.
const ignoreError = (): void => {};

export function createHttpFront(ctx: ConnectionContext, options: HttpFrontOptions): HttpFront {
  const { app, limits, watchdog } = ctx;
  // Built only when something reads it (the access log); the stats need the status alone.
  const countOnly = ctx.countRequest;
  let draining = false;

  /**
   * node:http's response, carrying what the front keeps per request, so that one 'close'
   * listener shared by all requests does the bookkeeping: no closure, timer or map entry per
   * request unless a feature that needs one is on.
   */
  class FrontResponse<Request extends IncomingMessage = IncomingMessage> extends FramedResponse<Request> {
    /** performance.now() when the request came in; read only for the access record. */
    startedAt = 0;
    /** Body bytes written by the fetch path (node listeners: the Content-Length they set). */
    bodyBytes = -1;
    sink: HttpSink | undefined = undefined;
    /** The harakiri timer and the watchdog slot, when harakiri is on. */
    deadline: NodeJS.Timeout | undefined = undefined;
    stallSlot = -1;
    /** Body bytes handed to write() and end(), counted only for the access log (see below). */
    declare written: number;
  }
  FrontResponse.prototype.written = 0;
  if (!countOnly) {
    // The access log's size for what a Node listener (or pier itself: 400, 408, 413, 500, 504)
    // writes: a head given to writeHead as an object is not kept where getHeader finds it, so
    // the bytes are counted as they are written. Only with an access log: no cost otherwise.
    const { write, end } = FramedResponse.prototype as unknown as {
      write: (this: FrontResponse, ...args: unknown[]) => boolean;
      end: (this: FrontResponse, ...args: unknown[]) => FrontResponse;
    };
    Object.assign(FrontResponse.prototype, {
      write(this: FrontResponse, chunk: unknown, ...rest: unknown[]) {
        this.written += byteLengthOf(chunk, rest[0]);
        return write.call(this, chunk, ...rest);
      },
      end(this: FrontResponse, chunk?: unknown, ...rest: unknown[]) {
        this.written += byteLengthOf(chunk, rest[0]);
        return end.call(this, chunk, ...rest);
      },
    });
  }
  const writeHead = FramedResponse.prototype.writeHead as (
    this: ServerResponse,
    statusCode: number,
    reason?: unknown,
    headers?: unknown,
  ) => ServerResponse;
  FrontResponse.prototype.writeHead = function (
    this: FrontResponse,
    statusCode: number,
    reason?: unknown,
    headers?: unknown,
  ) {
    // A front winding down answers the requests still in flight with Connection: close.
    if (draining) this.shouldKeepAlive = false;
    if (this.stallSlot >= 0) watchdog?.headSent(this.stallSlot);
    return writeHead.call(this, statusCode, reason, headers);
  } as FrontResponse['writeHead'];

  const server = createServer({
    maxHeaderSize: limits.bufferSize,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: 0,
    keepAliveTimeout: options.keepAliveMs,
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    // Checked in the request handler instead, so that the 400 is logged and recorded.
    requireHostHeader: false,
    ServerResponse: FrontResponse,
  });
  server.keepAliveTimeout = options.keepAliveMs;

  const sockets = new Set<TrackedSocket>();
  server.on('connection', (socket: TrackedSocket) => {
    socket[inFlight] = 0;
    socket[idleSince] = Date.now();
    // The access log names the client even when the client has closed by the time it is written.
    if (!countOnly) rememberPeer(socket);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  // 'close' comes whatever ended the response: one record each. A response never ended (by the
  // app or the server) lost its client.
  function onResponseClose(this: FrontResponse): void {
    const req = this.req;
    const socket = req.socket as TrackedSocket;
    if (--socket[inFlight] === 0) socket[idleSince] = Date.now();
    if (this.deadline) clearTimeout(this.deadline);
    if (this.stallSlot >= 0) watchdog?.end(this.stallSlot);
    const status = this.writableEnded || wasCut(this) ? this.statusCode : clientClosedStatus;
    if (countOnly) {
      countOnly(status);
      return;
    }
    const bytes = this.sink
      ? this.sink.bytes
      : this.bodyBytes >= 0
        ? this.bodyBytes
        : bodyAllowed(req.method ?? 'GET', this.statusCode)
          ? this.written
          : 0;
    ctx.onRequest({
      protocol: 'http',
      remoteAddress: socket.remoteAddress ?? '',
      method: req.method ?? '',
      target: req.url ?? '',
      status,
      bytes,
      durationMs: performance.now() - this.startedAt,
      referer: (req.headers.referer as string | undefined) ?? '',
      userAgent: req.headers['user-agent'] ?? '',
    });
  }

  const trackDeadline = (req: IncomingMessage, res: FrontResponse): void => {
    res.deadline = setTimeout(() => {
      ctx.log(`${req.method} ${req.url}: no response within ${limits.harakiriMs} ms (harakiri)`);
      plainError(res, 504, 'Gateway Timeout');
    }, limits.harakiriMs);
    if (watchdog)
      res.stallSlot = watchdog.begin(socketFd(req.socket), -1, () => ({
        protocol: 'http',
        remoteAddress: req.socket.remoteAddress ?? '',
        method: req.method ?? '',
        target: req.url ?? '',
        referer: (req.headers.referer as string | undefined) ?? '',
        userAgent: req.headers['user-agent'] ?? '',
      }));
  };

  const appFailed = (req: IncomingMessage, res: FrontResponse, err: unknown): void => {
    // The server answered already (408, 413, 504) or the client left: the app's failure
    // (often its body read, aborted) is no news.
    if (res.writableEnded || wasCut(res) || res.destroyed) return;
    ctx.log(`${req.method} ${req.url}: app error: ${describeError(err)}`);
    plainError(res, 500, 'Internal Server Error');
  };

  /** Sends what a fetch handler returned: a plain string/bytes Response at once, others streamed. */
  const respond = (req: IncomingMessage, res: FrontResponse, response: unknown): void => {
    const light = isLightResponse(response);
    if (!light && !(response instanceof Response)) {
      appFailed(req, res, new TypeError(`the fetch handler returned ${typeof response}, not a Response`));
      return;
    }
    if (res.headersSent || res.destroyed) {
      // Answered without the app (harakiri, 408), or the client left: release its body.
      void (response as Response).body?.cancel().catch(() => {});
      return;
    }
    const method = req.method ?? 'GET';
    try {
      const whole = light ? lightFlat(response, method) : undefined;
      if (whole) {
        res.bodyBytes = writeWhole(res, whole, method);
        return;
      }
    } catch (err) {
      appFailed(req, res, err);
      return;
    }
    // A streamed body that runs past, or stops short of, the Content-Length the app declared
    // is an error that ends the connection, not bytes framed wrongly for the next response on
    // it (RFC 9112 §6.3; node:http's default sends them as they come): length-check.ts, and
    // node:http's own check behind it.
    res.strictContentLength = true;
    const sink = new HttpSink(res);
    res.sink = sink;
    const checked = lengthChecked(sink, method, (err) => appFailed(req, res, err));
    writeWebResponse(response as Response, method, checked).catch((err: unknown) => appFailed(req, res, err));
  };

  // http-keepalive = 0 means close after each response; to node:http, a keepAliveTimeout of 0
  // would mean the opposite, an idle connection held open for ever.
  const closeEach = options.keepAliveMs === 0;
  const onRequest = (req: IncomingMessage, res: FrontResponse): void => {
    const socket = req.socket as TrackedSocket;
    socket[inFlight]++;
    if (closeEach) res.shouldKeepAlive = false;
    if (!countOnly) res.startedAt = performance.now();
    res.on('close', onResponseClose);
    res.on('error', ignoreError);
    const refused = badTargetOrHost(req);
    if (refused !== undefined) {
      ctx.log(`${req.method} ${req.url}: bad request: ${refused}`);
      plainError(res, 400, 'Bad Request');
      return;
    }
    if (limits.limitPost > 0 && !enforceBodyLimit(req, res, limits.limitPost, ctx)) return;
    if (limits.bodyTimeoutMs > 0 && hasBody(req)) watchBody(req, res, limits.bodyTimeoutMs, ctx);
    if (limits.harakiriMs > 0) trackDeadline(req, res);
    if (app.kind === 'node') {
      try {
        watchListenerResult(app.listener(req, res), (err) => appFailed(req, res, err));
      } catch (err) {
        ctx.log(`${req.method} ${req.url}: app error: ${describeError(err)}`);
        plainError(res, 500, 'Internal Server Error');
      }
      return;
    }
    // Called at once, not from a promise: a handler that answers synchronously (most do) is
    // written without a microtask in between.
    let returned: unknown;
    try {
      returned = app.fetch(requestFromIncoming(req));
    } catch (err) {
      appFailed(req, res, err);
      return;
    }
    // A light Response is told apart without looking up `then` along its prototype chain.
    if (isLightResponse(returned) || !isThenable(returned)) respond(req, res, returned);
    else
      returned.then(
        (response) => respond(req, res, response),
        (err: unknown) => appFailed(req, res, err),
      );
  };
  server.on('request', onRequest);
  if (limits.limitPost > 0) {
    // RFC 9110 §10.1.1: when the head already decides against the body, answer at once instead
    // of inviting the client to send it with 100 Continue.
    server.on('checkContinue', (req: IncomingMessage, res: FrontResponse) => {
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
    // A uwsgi packet (nginx's uwsgi_pass) starts with modifier1 0, which no HTTP request does.
    const uwsgi =
      err.rawPacket?.[0] === 0
        ? ': this looks like a uwsgi packet (nginx uwsgi_pass), and this socket speaks HTTP; point uwsgi_pass at a `socket` address, or use proxy_pass'
        : '';
    ctx.log(
      `http: ${status} from ${socket.remoteAddress ?? 'unix'}: ${err.code ?? ''} ${describeError(err)}${uwsgi}`,
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
    for (const socket of sockets)
      if (socket[inFlight] === 0 && now - socket[idleSince] > 1000) socket.destroy();
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
      // net.Server#close, not http.Server#close: stop accepting, leave keep-alive to the sweep.
      Reflect.apply(NetServer.prototype.close, server, []);
      const sweep = setInterval(closeIdle, 250);
      sweep.unref();
      server.once('close', () => clearInterval(sweep));
    },
    // HTTP connections are not handed on: a draining worker answers with `Connection: close`.
    adopt: closeHandle,
  };
}
