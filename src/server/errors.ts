// Errors of the app server. Each carries a stable `code` and, when it is the client's or the
// gateway's fault, the HTTP `status` it maps to; front-ends map by `status`, never by class.

export class ServerError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, message: string, status = 500, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServerError';
    this.code = code;
    this.status = status;
  }
}

/** The request as delivered (CGI variables, wire bytes) is malformed or too big. */
export class BadRequestError extends ServerError {
  constructor(code: string, message: string, status = 400) {
    super(code, message, status);
    this.name = 'BadRequestError';
  }
}

/** nginx's status for a request whose client went away before the response ended; so is ours. */
export const clientClosedStatus = 499;

/** The client went away before its response ended: nothing more can reach it. */
export class ClientGoneError extends ServerError {
  constructor() {
    super('CLIENT_GONE', 'the client closed the connection', clientClosedStatus);
    this.name = 'ClientGoneError';
  }
}

/** The app module cannot be loaded or does not export a handler. */
export class AppLoadError extends ServerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('APP_LOAD', message, 500, options);
    this.name = 'AppLoadError';
  }
}

export function statusOf(err: unknown): number {
  return err instanceof ServerError ? err.status : 500;
}

/** One line for the log: the message and its cause's, with control characters escaped. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return oneLine(String(err));
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return oneLine(`${err.message}${cause}`);
}

/**
 * Where an error was thrown, for a log record: the first frame of its stack (of its cause's,
 * when it wraps one, as an app that failed to load does) outside Node and outside packages,
 * as `file:///srv/app.mjs:2:53`. Undefined without one (a syntax error esbuild reported).
 */
export function thrownAt(err: unknown): string | undefined {
  // pier's own finding about an app (no default export, no such file) was thrown in pier's
  // code: a place there would send the reader to the wrong file.
  if (err instanceof AppLoadError && !(err.cause instanceof Error)) return undefined;
  const thrown = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const stack = thrown instanceof Error ? (thrown.stack ?? '') : '';
  for (const line of stack.split('\n').slice(1)) {
    // `at fn (/srv/app.mjs:2:53)`, `at file:///srv/app.mjs:2:53`; not `node:internal/…`.
    const frame = /^at (?:.* \()?((?:file:\/\/)?\/[^()\s]*:\d+:\d+)\)?$/.exec(line.trim());
    const at = frame?.[1];
    if (at && !at.includes('/node_modules/')) return at;
  }
  return undefined;
}

// A message may quote hostile input (a header value with CR/LF): keep log records one line.
function oneLine(text: string): string {
  return text.replace(/[\r\n\0]/g, (c) => (c === '\r' ? '\\r' : c === '\n' ? '\\n' : '\\0'));
}
