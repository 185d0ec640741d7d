// A Web `Request` for fetch apps behind node:http, built only as far as the app looks at it.
// `method`, `url` and `headers` come straight from the IncomingMessage; touching anything else
// (the body, signal, clone...) builds the real undici Request once and delegates to it. Apps
// that never read the request (Hello) pay for none of it; `instanceof Request` still holds.
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

const source = Symbol('pier.source');
const base = Symbol('pier.base');
const real = Symbol('pier.request');
const headerCache = Symbol('pier.headers');

interface LazyState {
  [source]: IncomingMessage;
  [base]: string;
  [real]?: Request;
  [headerCache]?: Headers;
}

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    if (name !== undefined && value !== undefined && name.charCodeAt(0) !== 58 /* ':' */)
      headers.append(name, value);
  }
  return headers;
}

function materialize(self: LazyState): Request {
  if (self[real]) return self[real];
  const req = self[source];
  const method = req.method ?? 'GET';
  const init: RequestInit & { duplex?: 'half' } = { method, headers: (self as unknown as Request).headers };
  if (method !== 'GET' && method !== 'HEAD') {
    init.body = Readable.toWeb(req) as ReadableStream;
    init.duplex = 'half';
  }
  self[real] = new Request(`${self[base]}${req.url ?? '/'}`, init);
  return self[real];
}

const prototype: object = Object.create(Request.prototype);
for (const key of Reflect.ownKeys(Request.prototype)) {
  if (
    key === 'constructor' ||
    key === Symbol.toStringTag ||
    key === 'method' ||
    key === 'url' ||
    key === 'headers'
  ) {
    continue;
  }
  const descriptor = Object.getOwnPropertyDescriptor(Request.prototype, key);
  if (!descriptor) continue;
  if (typeof descriptor.value === 'function') {
    Object.defineProperty(prototype, key, {
      value(this: LazyState, ...args: unknown[]) {
        const request = materialize(this) as unknown as Record<PropertyKey, (...a: unknown[]) => unknown>;
        return request[key as string]?.apply(request, args);
      },
    });
  } else if (descriptor.get) {
    Object.defineProperty(prototype, key, {
      get(this: LazyState) {
        return (materialize(this) as unknown as Record<PropertyKey, unknown>)[key as string];
      },
    });
  }
}
Object.defineProperties(prototype, {
  method: {
    get(this: LazyState) {
      return this[real]?.method ?? this[source].method ?? 'GET';
    },
  },
  url: {
    get(this: LazyState) {
      return this[real]?.url ?? `${this[base]}${this[source].url ?? '/'}`;
    },
  },
  headers: {
    get(this: LazyState) {
      if (this[real]) return this[real].headers;
      this[headerCache] ??= headersOf(this[source]);
      return this[headerCache];
    },
  },
  [Symbol.toStringTag]: { value: 'Request' },
});

/** `origin` is `http://host[:port]`, from the Host header or the listening address. */
export function lazyRequest(req: IncomingMessage, origin: string): Request {
  const state = Object.create(prototype) as LazyState;
  state[source] = req;
  state[base] = origin;
  return state as unknown as Request;
}
