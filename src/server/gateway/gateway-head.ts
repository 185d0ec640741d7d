// Builds the RequestHead of a gateway request (uwsgi, FastCGI) from its variables and checks
// it against the limits that are known before any body byte is read.
import { headFromCgiVars } from '../app/cgi-vars.js';
import type { RequestHead } from '../app/request-head.js';
import { BadRequestError } from '../errors.js';
import type { ProtocolLimits } from '../protocol.js';
import { cgiVarMap } from './gateway-vars.js';

const paramsFile = { uwsgi: '/etc/nginx/uwsgi_params', fastcgi: '/etc/nginx/fastcgi_params' };

export function gatewayHead(pairs: Iterable<[string, string]>, protocol: 'uwsgi' | 'fastcgi'): RequestHead {
  const vars = cgiVarMap(pairs);
  if (!vars.get('REQUEST_METHOD')) {
    throw new BadRequestError(
      'NO_REQUEST_METHOD',
      `the ${protocol} request has no REQUEST_METHOD variable: include ${paramsFile[protocol]} in the web server's location`,
    );
  }
  return headFromCgiVars(vars);
}

/** Refuses a declared body over limit-post before any of it is read. */
export function checkDeclaredBody(head: RequestHead, limits: Pick<ProtocolLimits, 'limitPost'>): void {
  if (limits.limitPost > 0 && head.contentLength !== null && head.contentLength > limits.limitPost) {
    throw new BadRequestError(
      'BODY_TOO_LARGE',
      `request body of ${head.contentLength} bytes is over limit-post (${limits.limitPost} bytes)`,
      413,
    );
  }
}
