// CGI-style meta-variables (RFC 3875; also what uwsgi and FastCGI carry) → a RequestHead.
// Validation happens here, once: a malformed variable is a BadRequestError with its status.
import { boundedMemo } from '../../common/bounded-memo.js';
import { BadRequestError } from '../errors.js';
import type { RequestHead } from './request-head.js';
import { badHostMessage, isValidHost } from './request-url.js';

export type CgiVars = ReadonlyMap<string, string> | Readonly<Record<string, string | undefined>>;

const token = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function reader(vars: CgiVars): (name: string) => string | undefined {
  if (vars instanceof Map) return (name) => vars.get(name);
  const record = vars as Readonly<Record<string, string | undefined>>;
  return (name) => record[name];
}

export function parseContentLength(raw: string | undefined): number | null {
  if (raw === undefined || raw === '') return null;
  if (!/^\d{1,15}$/.test(raw)) {
    throw new BadRequestError(
      'BAD_CONTENT_LENGTH',
      `CONTENT_LENGTH must be a non-negative integer, got "${raw}"`,
    );
  }
  return Number(raw);
}

/** The request target the variables describe: REQUEST_URI, else SCRIPT_NAME, PATH_INFO and QUERY_STRING. */
export function requestTarget(get: (name: string) => string | undefined): string {
  const uri = get('REQUEST_URI');
  if (uri) return uri;
  const path = `${get('SCRIPT_NAME') ?? ''}${get('PATH_INFO') ?? ''}` || '/';
  const query = get('QUERY_STRING');
  return query ? `${encodeURI(path)}?${query}` : encodeURI(path);
}

// HTTP_USER_AGENT → user-agent, remembered: the same few names come with every request.
const headerNameOf = boundedMemo((cgiName) => cgiName.slice(5).toLowerCase().replaceAll('_', '-'));

/** What a request must get right before anything runs: method, target, declared body length. */
export interface RequestLine {
  method: string;
  target: string;
  contentLength: number | null;
}

/** The rest of a RequestHead: what front-ends may build only when something reads it. */
export type HeadDetails = Omit<RequestHead, keyof RequestLine>;

export function headFromCgiVars(vars: CgiVars): RequestHead {
  const get = reader(vars);
  const line = requestLineFromCgiVars(get);
  return { ...line, ...headDetailsFromCgiVars(vars) };
}

/** Reads and validates the request line; a malformed one is a BadRequestError. */
export function requestLineFromCgiVars(get: (name: string) => string | undefined): RequestLine {
  const method = get('REQUEST_METHOD');
  if (!method) {
    throw new BadRequestError(
      'NO_REQUEST_METHOD',
      'REQUEST_METHOD is not set: run this under a web server (CGI, uwsgi or FastCGI gateway)',
      500,
    );
  }
  if (!token.test(method)) {
    throw new BadRequestError('BAD_METHOD', `REQUEST_METHOD "${method}" is not a valid HTTP method`);
  }
  const target = requestTarget(get);
  if (!target.startsWith('/') && target !== '*') {
    throw new BadRequestError('BAD_TARGET', `request target "${target}" does not start with "/"`);
  }
  // The Host goes into the app's URL (request-url.ts): one that is not a host[:port] is the
  // client's error, refused before the app runs (RFC 9112 §3.2: 400).
  const host = get('HTTP_HOST');
  if (host && !isValidHost(host)) throw new BadRequestError('BAD_HOST', badHostMessage(host));
  // The query goes to the app as the client sent it, a stray `%` ("100%") included: the HTTP
  // front, node:http and the URL standard take it so, and so does uWSGI's QUERY_STRING.

  return { method, target, contentLength: parseContentLength(get('CONTENT_LENGTH')) };
}

/** Headers, protocol version, scheme, authority and the client's address. */
export function headDetailsFromCgiVars(vars: CgiVars): HeadDetails {
  const get = reader(vars);
  const headers: Array<[string, string]> = [];
  const contentLength = parseContentLength(get('CONTENT_LENGTH'));
  const names = vars instanceof Map ? vars.keys() : Object.keys(vars);
  for (const name of names) {
    const value = get(name);
    if (value === undefined) continue;
    if (name.startsWith('HTTP_')) {
      // CONTENT_* also arrive as HTTP_CONTENT_* from some gateways; the CGI variable wins.
      if (name === 'HTTP_CONTENT_LENGTH' || name === 'HTTP_CONTENT_TYPE') continue;
      // The client's chunked framing ended at the web server, which passes the body on with
      // CONTENT_LENGTH: the app sees one framing, the one its body really has.
      if (name === 'HTTP_TRANSFER_ENCODING' && contentLength !== null) continue;
      headers.push([headerNameOf(name), value]);
    }
  }
  const contentType = get('CONTENT_TYPE');
  if (contentType) headers.push(['content-type', contentType]);
  if (contentLength !== null) headers.push(['content-length', String(contentLength)]);

  const https = get('HTTPS');
  const scheme = get('REQUEST_SCHEME') === 'https' || (https && https !== 'off') ? 'https' : 'http';
  const serverName = get('SERVER_NAME') || 'localhost';
  const serverPort = get('SERVER_PORT');
  const defaultPort = scheme === 'https' ? '443' : '80';
  const authority = serverPort && serverPort !== defaultPort ? `${serverName}:${serverPort}` : serverName;

  return {
    headers,
    httpVersion: get('SERVER_PROTOCOL') === 'HTTP/1.0' ? '1.0' : '1.1',
    scheme,
    authority,
    remoteAddress: get('REMOTE_ADDR') ?? '',
    remotePort: Number(get('REMOTE_PORT') ?? 0) || 0,
  };
}
