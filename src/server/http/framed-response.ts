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

const writeHead = ServerResponse.prototype.writeHead;
FramedResponse.prototype.writeHead = function (this: ServerResponse, statusCode: number, ...rest: unknown[]) {
  if (!lengthAllowed(statusCode)) {
    this.removeHeader('content-length');
    const last = rest.length - 1;
    const headers = rest[last];
    if (last >= 0 && typeof headers === 'object' && headers !== null)
      rest[last] = withoutLength(headers as HeaderArg);
  }
  return Reflect.apply(writeHead, this, [statusCode, ...rest]);
} as ServerResponse['writeHead'];
