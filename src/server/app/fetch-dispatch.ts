// Runs a fetch-style app: RequestHead + body → Web Request → Response → sink.
import type { Readable } from 'node:stream';
import { bodyAllowed, framedHeaders } from './body-allowed.js';
import type { FetchHandler } from './handler.js';
import { lazyRequest, type RequestSource } from './lazy-request.js';
import { lightParts, wholeResponse } from './light-response.js';
import type { RequestHead } from './request-head.js';
import { requestUrl } from './request-url.js';
import { forwardableHeaders, type ResponseSink } from './response-sink.js';

/** A CGI-style request as the lazy Request reads it: the URL, too, only once asked for. */
class HeadSource implements RequestSource {
  readonly method: string;
  private absolute: string | undefined;

  constructor(
    private readonly head: RequestHead,
    private readonly content: Readable | null,
  ) {
    this.method = head.method;
  }

  get url(): string {
    if (this.absolute === undefined) {
      const { head } = this;
      // A Host the head has is valid (requestLineFromCgiVars); an empty one names no host.
      const host = head.headers.find(([name]) => name === 'host')?.[1] || head.authority;
      this.absolute = requestUrl(head.scheme, host, head.target);
    }
    return this.absolute;
  }

  headerPairs(): Iterable<[string, string]> {
    return this.head.headers;
  }

  body(): Readable | null {
    return this.content;
  }
}

/** The lazy Web Request of a request that arrived as CGI-style variables (CGI, uwsgi, FastCGI). */
export function toWebRequest(head: RequestHead, body: Readable | null): Request {
  return lazyRequest(new HeadSource(head, body));
}

export async function writeWebResponse(
  response: Response,
  method: string,
  sink: ResponseSink,
): Promise<void> {
  const parts = lightParts(response);
  if (parts) {
    // A plain string/bytes Response: write it whole, no Headers object or stream built.
    const { head, body } = wholeResponse(parts, method);
    if (sink.complete) {
      sink.complete(head, body);
      return;
    }
    sink.head(head);
    if (body && body.length > 0) await sink.write(body);
    sink.end();
    return;
  }
  const headers = forwardableHeaders(response.headers);
  // Headers joins repeated Set-Cookie values; getSetCookie() keeps them apart.
  const cookies = response.headers.getSetCookie();
  const pairs = headers.filter(([name]) => name !== 'set-cookie');
  for (const cookie of cookies) pairs.push(['set-cookie', cookie]);
  const { status } = response;
  sink.head({ status, statusText: response.statusText, headers: framedHeaders(status, pairs) });
  if (!response.body || !bodyAllowed(method, status)) {
    await response.body?.cancel();
    sink.end();
    return;
  }
  // A reader rather than for-await: when the client goes away, cancel() ends a read that is
  // waiting for the app (an endless stream, server-sent events) and runs the body's cancel().
  const reader = response.body.getReader();
  let stopped = false;
  sink.onGone?.(() => {
    stopped = true;
    reader.cancel().catch(() => {});
  });
  for (;;) {
    const { done, value } = await reader.read();
    if (done || stopped) break;
    const pending = sink.write(value);
    if (pending) await pending;
  }
  if (!stopped) sink.end();
}

export async function dispatchFetch(
  fetch: FetchHandler,
  head: RequestHead,
  body: Readable | null,
  sink: ResponseSink,
): Promise<void> {
  let stopped = false;
  sink.onGone?.(() => {
    stopped = true;
  });
  const returned = fetch(toWebRequest(head, body));
  // A Response is not awaited itself: that would look up `then` along a light one's prototype
  // chain and complete it (late-prototype.ts), and cost a tick.
  const response: unknown = returned instanceof Response ? returned : await returned;
  if (!(response instanceof Response)) {
    throw new TypeError(`the app's fetch handler returned ${typeof response}, not a Response`);
  }
  if (stopped) {
    // Answered without it (the client left, the deadline passed): release what it holds.
    await response.body?.cancel();
    return;
  }
  await writeWebResponse(response, head.method, sink);
}
