// The ServerResponse of pier's HTTP front-end: node:http's own, except that a response whose
// status allows no Content-Length (1xx, 204, 304; see lengthAllowed) never sends one, whatever
// the app set with setHeader or writeHead. Every way to send a head goes through writeHead.
import { type IncomingMessage, ServerResponse } from 'node:http';
import { framedFlatHeaders, lengthAllowed } from '../app/body-allowed.js';

type HeaderArg = Record<string, unknown> | unknown[];

function withoutLength(headers: HeaderArg): HeaderArg {
  if (Array.isArray(headers)) {
    if (Array.isArray(headers[0]))
      return (headers as Array<[string, string]>).filter(
        ([name]) => String(name).toLowerCase() !== 'content-length',
      );
    return framedFlatHeaders(0, headers as string[]);
  }
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(headers))
    if (name.toLowerCase() !== 'content-length') out[name] = headers[name];
  return out;
}

export class FramedResponse<
  Request extends IncomingMessage = IncomingMessage,
> extends ServerResponse<Request> {}

// node:http's own, typed loosely: it takes (status, reason?, headers?) in any combination.
const writeHead = ServerResponse.prototype.writeHead as (
  this: ServerResponse,
  statusCode: number,
  reason?: unknown,
  headers?: unknown,
) => ServerResponse;
FramedResponse.prototype.writeHead = function (
  this: ServerResponse,
  statusCode: number,
  reason?: unknown,
  headers?: unknown,
) {
  if (!lengthAllowed(statusCode)) {
    this.removeHeader('content-length');
    // writeHead(status, headers) or writeHead(status, reason, headers).
    if (typeof reason === 'object' && reason !== null) reason = withoutLength(reason as HeaderArg);
    if (typeof headers === 'object' && headers !== null) headers = withoutLength(headers as HeaderArg);
  }
  return writeHead.call(this, statusCode, reason, headers);
} as ServerResponse['writeHead'];
