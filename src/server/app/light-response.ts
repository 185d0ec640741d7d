// A `Response` that stays a plain record of its constructor arguments until someone needs the
// real thing. Building an undici Response creates a Headers object and a ReadableStream per
// request; for the common `new Response(string, { status, headers })` pier writes the string
// straight to the socket instead. Workers install it as the global `Response` before loading
// the app (fast Node adapters for fetch apps do the same); anything beyond status/statusText
// builds the real Response once and delegates, and `instanceof Response` keeps working for
// real responses too (from fetch(), Response.error()...).

import { boundedMemo } from '../../common/bounded-memo.js';
import { bodyAllowed, declaredLengthHolds, framedHeaders, isLength, lengthAllowed } from './body-allowed.js';
import { linkLater } from './late-prototype.js';
import { forwardable, forwardableHeaders, type ResponseHead } from './response-sink.js';

const bodyArg = Symbol('pier.responseBody');
const initArg = Symbol('pier.responseInit');
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

/** A reason phrase (RFC 9112 §4 `reason-phrase`), as the Fetch standard checks statusText. */
const reasonPhrase = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Whether `init` is one the Fetch standard takes as it is ("initialize a response"): a status
 * that is an integer from 200 to 599, with no body for 204, 205 and 304; a statusText that is a
 * reason phrase (no CR, LF or other control characters).
 */
function plainInit(body: Body, init: ResponseInit): boolean {
  const { status, statusText } = init;
  if (status !== undefined) {
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) return false;
    if ((status === 204 || status === 205 || status === 304) && body !== null && body !== undefined)
      return false;
  }
  return statusText === undefined || (typeof statusText === 'string' && reasonPhrase.test(statusText));
}

function materialize(self: LightResponse): Response {
  self[real] ??= new (RealResponse())(self[bodyArg], self[initArg]);
  return self[real];
}

export class LightResponse {
  // Own fields, so the fast paths (status, lightParts) never look up the prototype chain.
  [bodyArg]: Body;
  [initArg]: Init;
  [real]: Response | undefined = undefined;

  constructor(body?: Body, init?: ResponseInit) {
    this[bodyArg] = body;
    this[initArg] = init;
    // The init the Fetch standard refuses, or converts (a status given as a string), goes to
    // the real constructor, which throws or converts exactly as it does outside pier.
    if (init !== undefined && init !== null && !plainInit(body, init)) materialize(this);
  }

  static [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value === 'object' && value !== null && Object.hasOwn(value, initArg)) return true;
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
      return this[real]?.status ?? this[initArg]?.status ?? 200;
    },
  },
  statusText: {
    get(this: LightResponse) {
      return this[real]?.statusText ?? this[initArg]?.statusText ?? '';
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
  return typeof value === 'object' && value !== null && Object.hasOwn(value, initArg);
}

/** The constructor arguments of a light response nobody has materialized whose body is a string or bytes. */
function plainArgs(response: unknown): { body: string | Uint8Array | null; init: Init } | undefined {
  // Own properties only: a real Response (or anything else) does not have them, and looking
  // along the chain would complete it (late-prototype.ts).
  if (!isLightResponse(response)) return undefined;
  const state = response as unknown as LightResponse;
  if (state[real]) return undefined;
  const body = state[bodyArg];
  if (!(body === null || body === undefined || typeof body === 'string' || body instanceof Uint8Array))
    return undefined;
  return { body: body ?? null, init: state[initArg] };
}

/**
 * The status, headers and whole body of a LightResponse nobody has materialized, when the body
 * is a string or bytes; undefined otherwise (then read the Response the standard way).
 */
export function lightParts(response: unknown): ResponseParts | undefined {
  const plain = plainArgs(response);
  if (!plain) return undefined;
  const { body, init } = plain;
  const headers = headerPairs(init?.headers);
  if (!headers) return undefined;
  // What the real constructor does for a string body without a content type.
  if (typeof body === 'string' && !headers.some(([name]) => name === 'content-type'))
    headers.push(['content-type', 'text/plain;charset=UTF-8']);
  return { status: init?.status ?? 200, statusText: init?.statusText ?? '', headers, body };
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
export function wholeHead(parts: ResponseParts, length: number, method: string): ResponseHead {
  const { status } = parts;
  const headers = framedHeaders(status, forwardableHeaders(parts.headers)).filter(
    ([name, value]) => name !== 'content-length' || declaredLengthHolds(value, length, method),
  );
  if (lengthAllowed(status) && !headers.some(([name]) => name === 'content-length'))
    headers.push(['content-length', String(length)]);
  return { status, statusText: parts.statusText, headers };
}

/** A light response as node:http writes it (see lightFlat). */
export interface FlatResponse {
  status: number;
  statusText: string;
  /** node:http's flat [name, value, name, value…] header list. */
  headers: string[];
  body: string | Uint8Array | null;
  /** Body bytes (UTF-8 for a string). */
  length: number;
}

/** wholeHead's rules, one header at a time, into a flat list. */
class FlatHead {
  readonly list: string[] = [];
  typed = false;
  private declared = false;

  constructor(
    private readonly withLength: boolean,
    private readonly length: number,
    private readonly method: string,
  ) {}

  add(name: string, value: string): void {
    if (!forwardable(name, value)) return;
    if (isLength(name)) {
      if (!this.withLength || !declaredLengthHolds(value, this.length, this.method)) return;
      this.declared = true;
    } else if (name === 'content-type') this.typed = true;
    this.list.push(name, value);
  }

  finish(length: number): string[] {
    if (this.withLength && !this.declared) this.list.push('content-length', String(length));
    return this.list;
  }
}

/**
 * lightParts and wholeHead in one pass, for the HTTP front, which writes one per request: the
 * head as node:http's flat header list, with no pair arrays in between when the app gave its
 * headers as a plain object (the common case). undefined where lightParts is; throws where
 * wholeHead does (CR, LF or NUL in a header).
 */
export function lightFlat(response: unknown, method: string): FlatResponse | undefined {
  const plain = plainArgs(response);
  if (!plain) return undefined;
  const { body, init } = plain;
  const given = init?.headers;
  const record =
    typeof given === 'object' && given !== null && !Array.isArray(given) && !(Symbol.iterator in given)
      ? (given as Record<string, unknown>)
      : undefined;
  const pairs = record ? undefined : headerPairs(given);
  if (!record && !pairs) return undefined;
  const status = init?.status ?? 200;
  const length = body === null ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  const head = new FlatHead(lengthAllowed(status), length, method);
  if (record) {
    for (const name in record)
      if (Object.hasOwn(record, name)) head.add(lowerName(name), String(record[name]));
  } else if (pairs) for (const [name, value] of pairs) head.add(name, value);
  // What the real constructor does for a string body without a content type (see lightParts).
  if (typeof body === 'string' && !head.typed) head.add('content-type', 'text/plain;charset=UTF-8');
  return { status, statusText: init?.statusText ?? '', headers: head.finish(length), body, length };
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
  const head = wholeHead(parts, bytes?.length ?? 0, method);
  return { head, body: bodyAllowed(method, parts.status) ? bytes : undefined };
}
