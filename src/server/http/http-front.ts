// The HTTP/1.1 front-end: Node's own parser and keep-alive, the app called directly (Node
// listeners get the real req/res; fetch apps a lazily built Request), limits and harakiri applied
// here, one RequestRecord per finished request.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import { bodyAllowed } from '../app/body-allowed.js';
import { requestFromIncoming } from '../app/lazy-request.js';
import { lightParts, wholeResponse } from '../app/light-response.js';
import { forwardableHeaders } from '../app/response-sink.js';
import { describeError } from '../errors.js';
import type { ConnectionContext, RequestRecord } from '../protocol.js';
import type { Front } from '../worker/fronts.js';
import { socketFd } from '../worker/stall-watchdog.js';

export interface HttpFrontOptions {
  keepAliveMs: number;
}

function plainError(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
  res.end(`${status} ${text}\n`);
}

/** Writes a fetch Response; resolves with the body bytes written. */
async function writeFetchResponse(
  response: Response,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<number> {
  const parts = lightParts(response);
  if (parts) {
    const { head, body } = wholeResponse(parts, req.method ?? 'GET');
    res.writeHead(head.status, head.statusText || undefined, head.headers.flat());
    res.end(body);
    return body?.length ?? 0;
  }
  res.writeHead(
    response.status,
    response.statusText || undefined,
    forwardableHeaders(response.headers).flat(),
  );
  const body = response.body;
  if (!body || !bodyAllowed(req.method ?? 'GET', response.status)) {
    res.end();
    await body?.cancel();
    return 0;
  }
  let bytes = 0;
  for await (const chunk of body) {
    if (res.destroyed) {
      await body.cancel();
      return bytes;
    }
    bytes += chunk.length;
    if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
  }
  res.end();
  return bytes;
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
  });
  server.keepAliveTimeout = options.keepAliveMs;

  const finish = (req: IncomingMessage, res: ServerResponse, started: number, bytes: number): void => {
    const socket = req.socket as Socket;
    const record: RequestRecord = {
      protocol: 'http',
      remoteAddress: socket.remoteAddress ?? '',
      method: req.method ?? '',
      target: req.url ?? '',
      status: res.statusCode,
      bytes,
      durationMs: performance.now() - started,
      referer: (req.headers.referer as string | undefined) ?? '',
      userAgent: req.headers['user-agent'] ?? '',
    };
    ctx.onRequest(record);
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

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const socket = req.socket as TrackedSocket;
    socket[idleSince] = 0;
    busy.add(res);
    if (draining) res.shouldKeepAlive = false;
    res.once('close', () => {
      busy.delete(res);
      socket[idleSince] = Date.now();
    });
    let bytes = -1;
    res.once('finish', () =>
      finish(req, res, started, bytes >= 0 ? bytes : Number(res.getHeader('content-length') ?? 0) || 0),
    );
    // A late write after a 504 must not become an uncaught 'error' event.
    res.on('error', () => {});
    if (limits.limitPost > 0 && !enforceBodyLimit(req, res, limits.limitPost, ctx)) return;
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
    Promise.resolve()
      .then(() => app.fetch(requestFromIncoming(req, origin)))
      .then((response) => {
        if (res.headersSent) return; // harakiri answered already
        if (!(response instanceof Response))
          throw new TypeError(`the fetch handler returned ${typeof response}, not a Response`);
        return writeFetchResponse(response, req, res).then((written) => {
          bytes = written;
        });
      })
      .catch((err: unknown) => {
        ctx.log(`${req.method} ${req.url}: app error: ${describeError(err)}`);
        plainError(res, 500, 'Internal Server Error');
      });
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const text =
      status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
    ctx.log(
      `http: ${status} from ${socket.remoteAddress ?? 'unix'}: ${err.code ?? ''} ${describeError(err)}`,
    );
    socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
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
