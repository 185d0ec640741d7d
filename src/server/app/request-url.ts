// The URL a fetch app's Request carries, put together from what the client sent: the scheme
// the front knows, the Host header and the request target (RFC 9110 §7.1). The Host header is
// the client's to choose, so it is checked before it goes into a URL: pasted in as it came, a
// Host of `x\admin` or `x#` would change the path the app routes on, past the web server's
// `location` rules for the path it really asked for.

/**
 * A Host field value: `uri-host [ ":" port ]` (RFC 9110 §7.2), where uri-host is an IP literal
 * in brackets or a registered name or IPv4 address (RFC 3986 §3.2.2). A registered name is
 * held to the characters the URL standard takes in a host as they are: no percent-encoding,
 * and none of its forbidden host code points (`/ \ # ? @` and the like), which would end the
 * host early and turn the rest into path, query or fragment.
 */
const hostValue = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=]+)(?::([0-9]*))?$/;

/**
 * Whether `value` is a Host field value a URL can be built on (see hostValue), its port, if
 * any, at most 65535 (the largest a URL takes: WHATWG URL, port state).
 */
export function isValidHost(value: string): boolean {
  const match = hostValue.exec(value);
  if (!match) return false;
  const port = match[1];
  return port === undefined || Number(port) <= 65535;
}

/**
 * `scheme://host` + the target's path and query, for a request whose Host is valid (or absent:
 * `host` is then the server's own name). `target` is the request target as received:
 * origin-form (`/path?q`), asterisk-form (`*`, OPTIONS for the server as a whole: `/`), or
 * absolute-form (`http://host/path`), whose own authority replaces the Host header's
 * (RFC 9112 §3.2.2).
 */
export function requestUrl(scheme: string, host: string, target: string): string {
  if (target.charCodeAt(0) === 47 /* / */) return `${scheme}://${host}${target}`;
  if (target === '*') return `${scheme}://${host}/`;
  return target;
}

/**
 * The BadRequestError message for an invalid Host value, quoted with its control characters
 * escaped so that a log line stays one line.
 */
export function badHostMessage(value: string): string {
  return `the Host header ${JSON.stringify(value)} is not a valid host[:port] (RFC 9110 §7.2)`;
}
