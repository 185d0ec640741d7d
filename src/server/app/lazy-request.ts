// A Web `Request` for fetch apps, built only as far as the app looks at it. `method`, `url` and
// `headers` come straight from the front-end's own request; touching anything else (the body,
// signal, clone...) builds the real undici Request once and delegates to it. Apps that never
// read the request (Hello) pay for none of it; `instanceof Request` still holds.
import type { IncomingMessage } from 'node:http';
import { BadRequestError } from '../errors.js';
import { linkLater } from './late-prototype.js';
import { requestUrl } from './request-url.js';
import { streamModule } from './stream-module.js';

/** What a front-end knows about a request, handed over without building anything. */
export interface RequestSource {
  method: string;
  /** Absolute URL. */
  url: string;
  /** Header pairs; names in any case. */
  headerPairs(): Iterable<[string, string]>;
  /** The body for methods that have one. */
  body(): ReadableStream | AsyncIterable<Uint8Array> | null;
}

const source = Symbol('pier.source');
const real = Symbol('pier.request');
const headerCache = Symbol('pier.headers');

class LazyRequest {
  // Own fields, so reading them never looks up the prototype chain (late-prototype.ts).
  [source]: RequestSource;
  [real]: Request | undefined = undefined;
  [headerCache]: Headers | undefined = undefined;

  constructor(from: RequestSource) {
    this[source] = from;
  }
}

function materialize(self: LazyRequest): Request {
  if (self[real]) return self[real];
  const from = self[source];
  const init: RequestInit & { duplex?: 'half' } = {
    method: from.method,
    headers: (self as unknown as Request).headers,
  };
  const body = from.method === 'GET' || from.method === 'HEAD' ? null : from.body();
  if (body) {
    init.body = body as ReadableStream;
    init.duplex = 'half';
  }
  self[real] = new Request(from.url, init);
  return self[real];
}

const fastKeys = new Set<PropertyKey>(['constructor', Symbol.toStringTag, 'method', 'url', 'headers']);
// Everything beyond method, url and headers builds the real Request once and delegates to it.
linkLater(LazyRequest.prototype, () => {
  const realPrototype = Request.prototype;
  for (const key of Reflect.ownKeys(realPrototype)) {
    if (fastKeys.has(key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(realPrototype, key);
    if (typeof descriptor?.value === 'function') {
      Object.defineProperty(LazyRequest.prototype, key, {
        value(this: LazyRequest, ...args: unknown[]) {
          const request = materialize(this) as unknown as Record<PropertyKey, (...a: unknown[]) => unknown>;
          return request[key as string]?.apply(request, args);
        },
      });
    } else if (descriptor?.get) {
      Object.defineProperty(LazyRequest.prototype, key, {
        get(this: LazyRequest) {
          return (materialize(this) as unknown as Record<PropertyKey, unknown>)[key as string];
        },
      });
    }
  }
  return realPrototype;
});
Object.defineProperties(LazyRequest.prototype, {
  method: {
    get(this: LazyRequest) {
      return this[real]?.method ?? this[source].method;
    },
  },
  url: {
    get(this: LazyRequest) {
      return this[real]?.url ?? this[source].url;
    },
  },
  headers: {
    get(this: LazyRequest) {
      if (this[real]) return this[real].headers;
      if (!this[headerCache]) {
        const headers = new Headers();
        for (const [name, value] of this[source].headerPairs()) {
          try {
            headers.append(name, value);
          } catch {
            // Only a gateway's variables can carry these (HTTP_* with a CR, LF or NUL, or a
            // name that is no token): the client's request, not the app, is at fault.
            throw new BadRequestError(
              'BAD_HEADER',
              `request header ${JSON.stringify(name)} has a value or name HTTP does not allow (RFC 9110 §5.5)`,
            );
          }
        }
        this[headerCache] = headers;
      }
      return this[headerCache];
    },
  },
  [Symbol.toStringTag]: { value: 'Request' },
});

export function lazyRequest(from: RequestSource): Request {
  return new LazyRequest(from) as unknown as Request;
}

function* rawPairs(raw: string[]): Iterable<[string, string]> {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? '';
    // HTTP/2-style pseudo-headers are not headers.
    if (name.charCodeAt(0) !== 58) yield [name, raw[i + 1] ?? ''];
  }
}

/** What a node:http request gives the lazy Request; the URL is put together only when read. */
class IncomingSource implements RequestSource {
  readonly method: string;
  private absolute: string | undefined;

  constructor(private readonly req: IncomingMessage) {
    this.method = req.method ?? 'GET';
  }

  get url(): string {
    // The HTTP front refused an invalid Host before the app ran; HTTP/1.0 may send none.
    this.absolute ??= requestUrl('http', this.req.headers.host || 'localhost', this.req.url ?? '/');
    return this.absolute;
  }

  headerPairs(): Iterable<[string, string]> {
    return rawPairs(this.req.rawHeaders);
  }

  body(): ReadableStream {
    return streamModule().Readable.toWeb(this.req) as ReadableStream;
  }
}

/** The lazy Request of a node:http request, its URL from the Host header and target (requestUrl). */
export function requestFromIncoming(req: IncomingMessage): Request {
  return lazyRequest(new IncomingSource(req));
}
