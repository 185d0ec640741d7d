// Runs a fetch-style app: RequestHead + body → Web Request → Response → sink.
import type { Readable } from 'node:stream';
import type { FetchHandler } from './handler.js';
import { lazyRequest, type RequestSource } from './lazy-request.js';
import { lightParts, wholeResponse } from './light-response.js';
import type { RequestHead } from './request-head.js';
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
      const host = head.headers.find(([name]) => name === 'host')?.[1] ?? head.authority;
      this.absolute = `${head.scheme}://${host}${head.target}`;
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
  sink.head({ status: response.status, statusText: response.statusText, headers: pairs });
  if (!response.body || method === 'HEAD' || response.status === 204 || response.status === 304) {
    await response.body?.cancel();
    sink.end();
    return;
  }
  for await (const chunk of response.body) {
    const pending = sink.write(chunk);
    if (pending) await pending;
  }
  sink.end();
}

export async function dispatchFetch(
  fetch: FetchHandler,
  head: RequestHead,
  body: Readable | null,
  sink: ResponseSink,
): Promise<void> {
  const response = await fetch(toWebRequest(head, body));
  if (!(response instanceof Response)) {
    throw new TypeError(`the app's fetch handler returned ${typeof response}, not a Response`);
  }
  await writeWebResponse(response, head.method, sink);
}
