// Runs an app for one request and guarantees a response: a failure before the head went out
// becomes a plain-text error response with the failure's status; after it, the sink is aborted.
// With a deadline (harakiri), a request still unanswered when it passes gets 504 and whatever
// the app writes later is dropped; the worker itself is only replaced if its event loop stalls.
// When the sink reports the client gone, or the outcome is decided without the app, the app is
// told to stop: its fetch body is cancelled, its Node req and res get 'close'.
import type { Readable } from 'node:stream';
import { ClientGoneError, describeError, ServerError, statusOf } from '../errors.js';
import { bodyAllowed } from './body-allowed.js';
import { dispatchFetch, toWebRequest } from './fetch-dispatch.js';
import type { App } from './handler.js';
import { lengthChecked } from './length-check.js';
import { lightParts, wholeResponse } from './light-response.js';
import { dispatchNode } from './node-dispatch.js';
import { reasonPhrase } from './reason-phrase.js';
import type { RequestHead } from './request-head.js';
import type { ResponseHead, ResponseSink } from './response-sink.js';

/**
 * Sends a short plain-text error response through a sink whose head has not gone out, answering
 * a `method` request; returns its body bytes as the access log counts them (none for HEAD).
 */
export function sendError(sink: ResponseSink, status: number, message?: string, method = 'GET'): number {
  const statusText = reasonPhrase(status) ?? 'Error';
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
  return bodyAllowed(method, status) ? body.length : 0;
}

export interface DispatchOptions {
  /** Error and warning lines (one per problem). */
  log: (line: string) => void;
  /** Milliseconds the app has to produce a complete response; 0 = no limit. */
  deadlineMs?: number;
}

export interface DispatchResult {
  status: number;
  /** Body bytes written (after the head). */
  bytes: number;
}

class DeadlineError extends ServerError {
  constructor(ms: number) {
    super('HARAKIRI', `no response within ${ms} ms (harakiri)`, 504);
  }
}

export function dispatch(
  app: App,
  head: RequestHead,
  body: Readable | null,
  sink: ResponseSink,
  options: DispatchOptions,
): Promise<DispatchResult> {
  return new Promise((resolve, reject) => dispatchThen(app, head, body, sink, options, resolve, reject));
}

/**
 * dispatch() for front-ends on the hot path: `done` runs at once, with no promise or microtask
 * in between, when the app answered synchronously.
 */
export function dispatchThen(
  app: App,
  head: RequestHead,
  body: Readable | null,
  sink: ResponseSink,
  options: DispatchOptions,
  done: (result: DispatchResult) => void,
  failed: (err: unknown) => void,
): void {
  const answered = answerAtOnce(app, head, body, sink);
  if ('kind' in answered) run(answered, head, body, sink, options).then(done, failed);
  else done(answered);
}

/**
 * The common case, answered without a promise in between: a fetch handler that returns a plain
 * string/bytes Response at once. Anything else (a promise, a stream, a throw, a header that
 * cannot be sent) is returned as the app to run on the general path, holding what the handler
 * already returned.
 */
function answerAtOnce(
  app: App,
  head: RequestHead,
  body: Readable | null,
  sink: ResponseSink,
): DispatchResult | App {
  if (app.kind !== 'fetch' || !sink.complete) return app;
  let returned: Response | Promise<Response>;
  try {
    returned = app.fetch(toWebRequest(head, body));
  } catch (err) {
    return thrower(err);
  }
  const parts = lightParts(returned);
  if (parts) {
    let whole: ReturnType<typeof wholeResponse> | undefined;
    try {
      whole = wholeResponse(parts, head.method);
    } catch {
      // An invalid header: the general path reports it.
    }
    if (whole) {
      sink.complete(whole.head, whole.body);
      return { status: whole.head.status, bytes: whole.body?.length ?? 0 };
    }
  }
  return { kind: 'fetch', fetch: () => returned };
}

const thrower = (err: unknown): App => ({
  kind: 'fetch',
  fetch: () => {
    throw err;
  },
});

async function run(
  app: App,
  head: RequestHead,
  body: Readable | null,
  sink: ResponseSink,
  options: DispatchOptions,
): Promise<DispatchResult> {
  let sent: ResponseHead | undefined;
  let bytes = 0;
  let settled = false;
  // How the running app is told to stop (its body cancelled, its req/res closed) once the outcome
  // is decided without it: the client left, the deadline passed, or it failed.
  let stopApp: (() => void) | undefined;
  // A streamed body that breaks the app's own Content-Length fails the request.
  let fail: (err: Error) => void = () => {};
  const checked = lengthChecked(sink, head.method, (err) => fail(err));
  // Once the outcome is decided (deadline, error, client gone), late writes from the app are dropped.
  const tracked: ResponseSink = {
    head(h) {
      if (settled) return;
      sent = h;
      checked.head(h);
    },
    write(chunk) {
      if (settled) return undefined;
      bytes += chunk.length;
      return checked.write(chunk);
    },
    end() {
      if (!settled) checked.end();
    },
    abort(reason) {
      if (!settled) sink.abort(reason);
    },
    onGone(listener) {
      stopApp = listener;
    },
  };
  if (sink.complete) {
    const complete = sink.complete.bind(sink);
    tracked.complete = (h, body) => {
      if (settled) return;
      sent = h;
      bytes += body?.length ?? 0;
      complete(h, body);
    };
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      fail = reject;
      const running =
        app.kind === 'fetch'
          ? dispatchFetch(app.fetch, head, body, tracked)
          : dispatchNode(app.listener, head, body, tracked);
      running.then(resolve, reject);
      const deadline = options.deadlineMs;
      if (deadline) timer = setTimeout(() => reject(new DeadlineError(deadline)), deadline);
      sink.onGone?.(() => reject(new ClientGoneError()));
    });
    return { status: sent?.status ?? 200, bytes };
  } catch (err) {
    settled = true;
    stopApp?.();
    // Nobody is left to answer; the access record says so (499), the log does not.
    if (err instanceof ClientGoneError) return { status: err.status, bytes };
    const status = statusOf(err);
    options.log(
      `${head.method} ${head.target}: ${status < 500 ? 'bad request' : 'app error'}: ${describeError(err)}`,
    );
    if (sent) {
      sink.abort(err instanceof Error ? err : new Error(String(err)));
      return { status: sent.status, bytes };
    }
    // Client errors explain themselves; server errors do not leak internals to the client.
    return {
      status,
      bytes: sendError(sink, status, status < 500 ? describeError(err) : undefined, head.method),
    };
  } finally {
    clearTimeout(timer);
  }
}
