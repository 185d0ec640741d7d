// `pier cgi`: one request per process, as Apache's mod_cgi/mod_cgid runs scripts. The request
// comes from the environment and stdin, the response goes to stdout; problems go to stderr as
// one line each and to the client as a status, never as a stack trace.
import type { Readable } from 'node:stream';
import { headFromCgiVars } from '../app/cgi-vars.js';
import { dispatch, sendError } from '../app/dispatch.js';
import type { App } from '../app/handler.js';
import { streamModule } from '../app/stream-module.js';
import { describeError, statusOf, thrownAt } from '../errors.js';
import type { CgiOutput } from './cgi-output.js';
import { cgiSink } from './cgi-sink.js';
import { type BodyLimits, cgiBodyLength, discardBody, readExactly } from './read-body.js';

export interface CgiOptions extends BodyLimits {
  env: Readonly<Record<string, string | undefined>>;
  /**
   * The request body's source; a function is called only when there is a body to read (for
   * process.stdin: a GET never creates the stream, nor a handle that could keep the process up).
   */
  stdin: Readable | (() => Readable);
  stdout: CgiOutput;
  log: (line: string) => void;
}

export const defaultCgiLimits: BodyLimits = { limitPost: 16 * 1024 * 1024, timeoutMs: 60_000 };

/** Serves one CGI request; resolves with the response status. */
export async function runCgi(app: App | (() => Promise<App>), options: CgiOptions): Promise<number> {
  const sink = cgiSink(options.stdout);
  let head: ReturnType<typeof headFromCgiVars> | undefined;
  let body: Buffer;
  const source = options.stdin;
  let stdin = typeof source === 'function' ? undefined : source;
  try {
    head = headFromCgiVars(options.env);
    body = await readExactly(
      () => (stdin ??= (source as () => Readable)()),
      cgiBodyLength(head.contentLength, options.env.HTTP_TRANSFER_ENCODING),
      options,
    );
  } catch (err) {
    const status = statusOf(err);
    options.log(`pier cgi: ${describeError(err)}`);
    sendError(sink, status, describeError(err));
    // Refused before a byte of it was read: the rest of the body is read and dropped, or the
    // web server may never pass the answer on (discardBody).
    if (status === 413 && head !== undefined && head.contentLength !== null) {
      await discardBody(
        () => (stdin ??= (source as () => Readable)()),
        head.contentLength,
        options.timeoutMs,
      );
    }
    return status;
  } finally {
    // The body is exactly CONTENT_LENGTH bytes; a server may keep stdin open past it (RFC 3875
    // §4.2: uWSGI's cgi plugin hands over the client socket). An open stdin would keep this
    // process alive after it answered, so it is closed once the body is in (if it was opened).
    stdin?.destroy();
  }
  let loaded: App;
  try {
    loaded = typeof app === 'function' ? await app() : app;
  } catch (err) {
    const at = thrownAt(err);
    options.log(`pier cgi: ${describeError(err)}${at ? ` (at ${at})` : ''}`);
    sendError(sink, 500);
    return 500;
  }
  const stream = head.contentLength === null ? null : streamModule().Readable.from([body]);
  const result = await dispatch(loaded, head, stream, sink, {
    log: (line) => options.log(`pier cgi: ${line}`),
  });
  return result.status;
}
