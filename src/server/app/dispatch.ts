// Runs an app for one request and guarantees a response: a failure before the head went out
// becomes a plain-text error response with the failure's status; after it, the sink is aborted.
import type { Readable } from 'node:stream';
import { describeError, statusOf } from '../errors.js';
import { dispatchFetch } from './fetch-dispatch.js';
import type { App } from './handler.js';
import { dispatchNode } from './node-dispatch.js';
import type { RequestHead } from './request-head.js';
import type { ResponseHead, ResponseSink } from './response-sink.js';

export const statusTexts: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Sends a short plain-text error response through a sink whose head has not gone out. */
export function sendError(sink: ResponseSink, status: number, message?: string): void {
  const statusText = statusTexts[status] ?? 'Error';
  const body = Buffer.from(`${status} ${statusText}${message ? `: ${message}` : ''}\n`);
  sink.head({
    status,
    statusText,
    headers: [
      ['content-type', 'text/plain; charset=utf-8'],
      ['content-length', String(body.length)],
    ],
  });
  void sink.write(body);
  sink.end();
}

export type ErrorLog = (line: string) => void;

export async function dispatch(
  app: App,
  head: RequestHead,
  body: Readable | null,
  sink: ResponseSink,
  log: ErrorLog,
): Promise<number> {
  let sent: ResponseHead | undefined;
  const tracked: ResponseSink = {
    head(h) {
      sent = h;
      sink.head(h);
    },
    write: (chunk) => sink.write(chunk),
    end: () => sink.end(),
    abort: (reason) => sink.abort(reason),
  };
  try {
    if (app.kind === 'fetch') await dispatchFetch(app.fetch, head, body, tracked);
    else await dispatchNode(app.listener, head, body, tracked);
    return sent?.status ?? 200;
  } catch (err) {
    const status = statusOf(err);
    log(
      `${head.method} ${head.target}: ${status < 500 ? 'bad request' : 'app error'}: ${describeError(err)}`,
    );
    if (sent) {
      sink.abort(err instanceof Error ? err : new Error(String(err)));
      return sent.status;
    }
    // Client errors explain themselves; server errors do not leak internals to the client.
    sendError(sink, status, status < 500 ? describeError(err) : undefined);
    return status;
  }
}
