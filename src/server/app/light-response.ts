// A `Response` that stays a plain record of its constructor arguments until someone needs the
// real thing. Building an undici Response creates a Headers object and a ReadableStream per
// request; for the common `new Response(string, { status, headers })` pier writes the string
// straight to the socket instead. Workers install it as the global `Response` before loading
// the app (fast Node adapters for fetch apps do the same); anything beyond status/statusText
// builds the real Response once and delegates, and `instanceof Response` keeps working for
// real responses too (from fetch(), Response.error()...).

import { boundedMemo } from '../../common/bounded-memo.js';
import { bodyAllowed, framedHeaders, isLength, lengthAllowed } from './body-allowed.js';
import { linkLater } from './late-prototype.js';
import { forwardable, forwardableHeaders, type ResponseHead } from './response-sink.js';

const args = Symbol('pier.responseArgs');
const real = Symbol('pier.realResponse');

type Init = ResponseInit | undefined;
type Body = ConstructorParameters<typeof Response>[0];

// Node's global Response, read without touching it: reading it loads undici (see
// late-prototype.ts), and its getter would put the real class back over an installed
// LightResponse.
const globalResponse = Object.getOwnPropertyDescriptor(globalThis, 'Response');
let realClass: typeof Response | undefined;

function RealResponse(): typeof Response {
  if (!realClass) {
    const installed = Object.getOwnPropertyDescriptor(globalThis, 'Response')?.value === LightResponse;
    realClass = (globalResponse?.get?.call(globalThis) ?? globalResponse?.value) as typeof Response;
    if (installed) installLightResponse();
  }
  return realClass;
}

function materialize(self: LightResponse): Response {
  self[real] ??= new (RealResponse())(self[args].body, self[args].init);
  return self[real];
}

export class LightResponse {
  // Own fields, so the fast paths (status, lightParts) never look up the prototype chain.
  [args]: { body: Body; init: Init };
  [real]: Response | undefined = undefined;

  constructor(body?: Body, init?: ResponseInit) {
    this[args] = { body, init };
  }

  static [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value === 'object' && value !== null && Object.hasOwn(value, args)) return true;
    return Function.prototype[Symbol.hasInstance].call(RealResponse(), value);
  }

  static json(data: unknown, init?: ResponseInit): Response {
    const headers = new Headers(init?.headers);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    return new LightResponse(JSON.stringify(data), { ...init, headers }) as unknown as Response;
  }

  static error(): Response {
    return RealResponse().error();
  }

  static redirect(url: string | URL, status?: 301 | 302 | 303 | 307 | 308): Response {
    return RealResponse().redirect(url, status ?? 302);
  }
}

const fastKeys = new Set<PropertyKey>(['constructor', Symbol.toStringTag, 'status', 'statusText']);
// Everything beyond status and statusText builds the real Response once and delegates to it.
linkLater(LightResponse.prototype, () => {
  const realPrototype = RealResponse().prototype;
  for (const key of Reflect.ownKeys(realPrototype)) {
    if (fastKeys.has(key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(realPrototype, key);
    if (typeof descriptor?.value === 'function') {
      Object.defineProperty(LightResponse.prototype, key, {
        value(this: LightResponse, ...rest: unknown[]) {
          const response = materialize(this) as unknown as Record<PropertyKey, (...a: unknown[]) => unknown>;
          return response[key as string]?.apply(response, rest);
        },
      });
    } else if (descriptor?.get) {
      Object.defineProperty(LightResponse.prototype, key, {
        get(this: LightResponse) {
          return (materialize(this) as unknown as Record<PropertyKey, unknown>)[key as string];
        },
      });
    }
  }
  return realPrototype;
});
// status and statusText are read on every request: answer them without materializing.
Object.defineProperties(LightResponse.prototype, {
  status: {
    get(this: LightResponse) {
      return this[real]?.status ?? this[args].init?.status ?? 200;
    },
  },
  statusText: {
    get(this: LightResponse) {
      return this[real]?.statusText ?? this[args].init?.statusText ?? '';
    },
  },
  [Symbol.toStringTag]: { value: 'Response' },
});

export interface ResponseParts {
  status: number;
  statusText: string;
  headers: Array<[string, string]>;
  body: string | Uint8Array | null;
}

// 'Content-Type' → 'content-type', remembered: the same few names come with every response.
const lowerName = boundedMemo((name) => name.toLowerCase());

function headerPairs(headers: ResponseInit['headers']): Array<[string, string]> | undefined {
  if (headers === undefined) return [];
  if (Array.isArray(headers))
    return headers.map(([name, value]) => [String(name).toLowerCase(), String(value)]);
  // A Headers object (or any iterable of pairs, as the Fetch standard takes them), told apart
  // without `instanceof Headers`, which would load undici.
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function')
    return Array.from(headers as Iterable<[string, string]>, ([name, value]) => [
      String(name).toLowerCase(),
      String(value),
    ]);
  if (typeof headers === 'object') {
    const pairs: Array<[string, string]> = [];
    for (const name in headers as Record<string, unknown>) {
      if (!Object.hasOwn(headers, name)) continue;
      pairs.push([lowerName(name), String((headers as Record<string, unknown>)[name])]);
    }
    return pairs;
  }
  return undefined;
}

/** Whether `value` is a LightResponse, told from its own fields (no prototype lookup). */
export function isLightResponse(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.hasOwn(value, args);
}

/**
 * The status, headers and whole body of a LightResponse nobody has materialized, when the body
 * is a string or bytes; undefined otherwise (then read the Response the standard way).
 */
export function lightParts(response: unknown): ResponseParts | undefined {
  // Own properties only: a real Response (or anything else) does not have them, and looking
  // along the chain would complete it (late-prototype.ts).
  if (!isLightResponse(response)) return undefined;
  const state = response as unknown as LightResponse;
  const recorded = state[args];
  if (state[real]) return undefined;
  const { body, init } = recorded;
  const isText = typeof body === 'string';
  if (!(body === null || body === undefined || isText || body instanceof Uint8Array)) return undefined;
  const headers = headerPairs(init?.headers);
  if (!headers) return undefined;
  // What the real constructor does for a string body without a content type.
  if (isText && !headers.some(([name]) => name === 'content-type'))
    headers.push(['content-type', 'text/plain;charset=UTF-8']);
  return { status: init?.status ?? 200, statusText: init?.statusText ?? '', headers, body: body ?? null };
}

/** Makes `new Response(...)` in app code build LightResponses (workers only). */
export function installLightResponse(): void {
  globalThis.Response = LightResponse as unknown as typeof Response;
}

/**
 * The head of a light response whose body is `length` bytes: hop-by-hop headers dropped,
 * Content-Length set where the status allows one (for HEAD, the length GET would have sent).
 * Throws when the app set a header that cannot be sent (CR, LF or NUL in it).
 */
export function wholeHead(parts: ResponseParts, length: number): ResponseHead {
  const { status } = parts;
  const headers = framedHeaders(status, forwardableHeaders(parts.headers));
  if (lengthAllowed(status) && !headers.some(([name]) => name === 'content-length'))
    headers.push(['content-length', String(length)]);
  return { status, statusText: parts.statusText, headers };
}

/**
 * wholeHead's headers as node:http's flat [name, value, name, value…] list, built in one pass:
 * the HTTP front writes one per request.
 */
export function wholeFlatHeaders(parts: ResponseParts, length: number): string[] {
  const flat: string[] = [];
  const withLength = lengthAllowed(parts.status);
  let declared = false;
  for (const [name, value] of parts.headers) {
    if (!forwardable(name, value)) continue;
    if (isLength(name)) {
      if (!withLength) continue;
      declared = true;
    }
    flat.push(name, value);
  }
  if (withLength && !declared) flat.push('content-length', String(length));
  return flat;
}

/**
 * A light response as one head and body, ready to write (see wholeHead), with no body where
 * HTTP allows none (HEAD, 204, 304).
 */
export function wholeResponse(
  parts: ResponseParts,
  method: string,
): { head: ResponseHead; body: Uint8Array | undefined } {
  const bytes =
    parts.body === null ? undefined : typeof parts.body === 'string' ? Buffer.from(parts.body) : parts.body;
  const head = wholeHead(parts, bytes?.length ?? 0);
  return { head, body: bodyAllowed(method, parts.status) ? bytes : undefined };
}
