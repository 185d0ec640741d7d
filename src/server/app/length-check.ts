// A streamed body under the app's own Content-Length must be exactly that long. A whole body is
// framed by its own length (light-response.ts); a streamed one goes out as it comes, so the
// app's header frames it, and a body that breaks it is framed wrongly (RFC 9112 §6.3): the web
// server cuts off what runs past, and a client takes a shorter body, or one cut at the length,
// for the whole response.
import { ServerError } from '../errors.js';
import { bodyAllowed, isLength } from './body-allowed.js';
import type { ResponseHead, ResponseSink } from './response-sink.js';

/**
 * `sink` with the head's Content-Length enforced on the body written through it. The chunk
 * that reaches the length is held until the body ends, so that a body running past it never
 * looks whole at the client. A body that runs past, or ends short, calls `fail` once with a
 * ServerError (code CONTENT_LENGTH) instead of being written or ended: the caller aborts the
 * response, as node:http's strictContentLength does. Without a Content-Length (or on HEAD,
 * 204, 304), the body passes unchecked.
 */
export function lengthChecked(
  sink: ResponseSink,
  method: string,
  fail: (err: ServerError) => void,
): ResponseSink {
  let declared: number | undefined;
  let written = 0;
  let held: Uint8Array | undefined;
  let failed = false;
  const failWith = (message: string): undefined => {
    if (!failed) fail(new ServerError('CONTENT_LENGTH', message));
    failed = true;
    return undefined;
  };
  const checked: ResponseSink = {
    head(head: ResponseHead) {
      declared = bodyAllowed(method, head.status) ? declaredLength(head.headers) : undefined;
      sink.head(head);
    },
    write(chunk) {
      if (failed || chunk.length === 0) return undefined;
      if (declared === undefined) return sink.write(chunk);
      if (held || written + chunk.length > declared) {
        return failWith(`the app's body runs past its Content-Length of ${declared} bytes`);
      }
      written += chunk.length;
      if (written < declared) return sink.write(chunk);
      held = chunk;
      return undefined;
    },
    end() {
      if (failed) return;
      if (declared !== undefined && written < declared) {
        failWith(
          `the app's body ended after ${written} of the ${declared} bytes its Content-Length declared`,
        );
        return;
      }
      if (held) void sink.write(held);
      held = undefined;
      sink.end();
    },
    abort: (reason) => sink.abort(reason),
  };
  if (sink.complete) checked.complete = sink.complete.bind(sink);
  if (sink.onGone) checked.onGone = sink.onGone.bind(sink);
  return checked;
}

/** The Content-Length a head declares, when it is one plain number (else the app's framing stands). */
function declaredLength(headers: ReadonlyArray<[string, string]>): number | undefined {
  const found = headers.find(([name]) => isLength(name));
  return found && /^\d{1,15}$/.test(found[1]) ? Number(found[1]) : undefined;
}
