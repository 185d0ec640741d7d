// The HTTP/1.1 front-end: Node's own parser and keep-alive, the app called directly (Node
// listeners get the real req/res; fetch apps a lazily built Request), limits and harakiri applied
// here, one RequestRecord per finished request.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { forwardableHeaders } from '../app/response-sink.js';
import { describeError } from '../errors.js';
import type { ConnectionContext, RequestRecord } from '../protocol.js';
import { lazyRequest } from './lazy-request.js';

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

async function writeFetchResponse(
  response: Response,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  res.writeHead(
    response.status,
    response.statusText || undefined,
    forwardableHeaders(response.headers).flat(),
  );
  const body = response.body;
  if (!body || req.method === 'HEAD' || response.status === 204 || response.status === 304) {
    res.end();
    await body?.cancel();
    return;
  }
  for await (const chunk of body) {
    if (res.destroyed) {
      await body.cancel();
      return;
    }
    if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
  }
  res.end();
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

export function createHttpFront(ctx: ConnectionContext, options: HttpFrontOptions): Server {
  const { app, limits } = ctx;
  const server = createServer({
    maxHeaderSize: limits.bufferSize,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: 0,
    keepAliveTimeout: options.keepAliveMs,
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
  });
  server.keepAliveTimeout = options.keepAliveMs;

  const finish = (req: IncomingMessage, res: ServerResponse, started: number): void => {
    const socket = req.socket as Socket;
    const record: RequestRecord = {
      protocol: 'http',
      remoteAddress: socket.remoteAddress ?? '',
      method: req.method ?? '',
      target: req.url ?? '',
      status: res.statusCode,
      bytes: Number(res.getHeader('content-length') ?? 0) || 0,
      durationMs: performance.now() - started,
      referer: (req.headers.referer as string | undefined) ?? '',
      userAgent: req.headers['user-agent'] ?? '',
    };
    ctx.onRequest(record);
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    res.once('finish', () => finish(req, res, started));
    // A late write after a 504 must not become an uncaught 'error' event.
    res.on('error', () => {});
    if (limits.limitPost > 0 && !enforceBodyLimit(req, res, limits.limitPost, ctx)) return;
    let timer: NodeJS.Timeout | undefined;
    if (limits.harakiriMs > 0) {
      timer = setTimeout(() => {
        ctx.log(`${req.method} ${req.url}: no response within ${limits.harakiriMs} ms (harakiri)`);
        plainError(res, 504, 'Gateway Timeout');
      }, limits.harakiriMs);
      res.once('close', () => clearTimeout(timer));
    }
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
      .then(() => app.fetch(lazyRequest(req, origin)))
      .then((response) => {
        if (res.headersSent) return; // harakiri answered already
        if (!(response instanceof Response))
          throw new TypeError(`the fetch handler returned ${typeof response}, not a Response`);
        return writeFetchResponse(response, req, res);
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
  return server;
}
