// Builds the RequestHead of a gateway request (uwsgi, FastCGI) from its variables and checks
// it against the limits that are known before any body byte is read.
import {
  type HeadDetails,
  headDetailsFromCgiVars,
  headFromCgiVars,
  type RequestLine,
  requestLineFromCgiVars,
  requestTarget,
} from '../app/cgi-vars.js';
import type { RequestHead } from '../app/request-head.js';
import { BadRequestError } from '../errors.js';
import type { ProtocolLimits } from '../protocol.js';
import { cgiVarMap, metaValue } from './gateway-vars.js';
import type { LoggedHead } from './request-record.js';

const paramsFile = { uwsgi: '/etc/nginx/uwsgi_params', fastcgi: '/etc/nginx/fastcgi_params' };

type Protocol = 'uwsgi' | 'fastcgi';

function requireMethod(method: string | undefined, protocol: Protocol): void {
  if (!method) {
    throw new BadRequestError(
      'NO_REQUEST_METHOD',
      `the ${protocol} request has no REQUEST_METHOD variable: include ${paramsFile[protocol]} in the web server's location`,
    );
  }
}

export function gatewayHead(pairs: Iterable<[string, string]>, protocol: Protocol): RequestHead {
  const vars = cgiVarMap(pairs);
  requireMethod(vars.get('REQUEST_METHOD'), protocol);
  return headFromCgiVars(vars);
}

/**
 * A RequestHead whose request line is read and checked at once, and whose headers and other
 * details are built from every variable only when something reads them. A Hello app reads
 * none, and building them is most of what a request head costs.
 */
class LazyGatewayHead implements RequestHead {
  readonly method: string;
  readonly target: string;
  readonly contentLength: number | null;
  private details: HeadDetails | undefined;

  constructor(
    line: RequestLine,
    private readonly allVars: () => Iterable<[string, string]>,
  ) {
    this.method = line.method;
    this.target = line.target;
    this.contentLength = line.contentLength;
  }

  get headers(): Array<[string, string]> {
    return this.built().headers;
  }
  get httpVersion(): '1.0' | '1.1' {
    return this.built().httpVersion;
  }
  get scheme(): 'http' | 'https' {
    return this.built().scheme;
  }
  get authority(): string {
    return this.built().authority;
  }
  get remoteAddress(): string {
    return this.built().remoteAddress;
  }
  get remotePort(): number {
    return this.built().remotePort;
  }

  private built(): HeadDetails {
    this.details ??= headDetailsFromCgiVars(cgiVarMap(this.allVars()));
    return this.details;
  }
}

/**
 * gatewayHead() for a parser that decoded only the request-line variables (`lineVar`: latin1,
 * the last of a repeated one); `allVars` decodes the rest when needed. Same head, same errors.
 */
export function lazyGatewayHead(
  lineVar: (name: string) => string | undefined,
  allVars: () => Iterable<[string, string]>,
  protocol: Protocol,
): RequestHead {
  const get = (name: string): string | undefined => {
    const raw = lineVar(name);
    return raw === undefined ? undefined : metaValue(name, raw);
  };
  requireMethod(get('REQUEST_METHOD'), protocol);
  return new LazyGatewayHead(requestLineFromCgiVars(get), allVars);
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

/**
 * What the access log shows of a request refused for its head (a CONTENT_LENGTH of "-1"): the
 * method, target, client address and logged headers as the gateway sent them, unchecked. A
 * refused request is still one the web server's admin must be able to find in the log.
 */
export function refusedHead(pairs: Iterable<[string, string]>): LoggedHead {
  const vars = cgiVarMap(pairs);
  const get = (name: string): string | undefined => vars.get(name);
  const headers: Array<[string, string]> = [];
  const referer = get('HTTP_REFERER');
  const userAgent = get('HTTP_USER_AGENT');
  if (referer !== undefined) headers.push(['referer', referer]);
  if (userAgent !== undefined) headers.push(['user-agent', userAgent]);
  return {
    method: get('REQUEST_METHOD') ?? '',
    target: requestTarget(get),
    remoteAddress: get('REMOTE_ADDR') ?? '',
    headers,
  };
}
