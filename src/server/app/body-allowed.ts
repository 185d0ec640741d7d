// Whether a response may carry a body (RFC 9110 §6.4.1): not for HEAD, 1xx, 204 or 304.
// Sinks drop body bytes an app writes anyway, so the web server never sees them.
export function bodyAllowed(method: string, status: number): boolean {
  return method !== 'HEAD' && status >= 200 && status !== 204 && status !== 304;
}

/**
 * Whether a response with this status may declare a Content-Length. Never on 1xx or 204
 * (RFC 9110 §8.6); on 304 only the length the 200 would have had (§15.4.5), which pier cannot
 * know, so none.
 */
export function lengthAllowed(status: number): boolean {
  return status >= 200 && status !== 204 && status !== 304;
}

/** Whether a header name is Content-Length, in any case. */
export const isLength = (name: string): boolean =>
  name.length === 14 && name.toLowerCase() === 'content-length';

/**
 * Whether an app's own Content-Length `value` may frame a whole body of `length` bytes answering
 * `method`: when it is that length, or on a HEAD answer with no body, where it says what GET
 * would send (RFC 9110 §9.3.2); a number either way. Any other value would frame the response
 * wrongly (RFC 9112 §6.3): a client waiting for bytes that never come, or, on a kept
 * connection, the rest of the body taken for the next response. pier sends the body's own
 * length instead (a proxy app passing on an upstream's headers after fetch() decompressed the
 * body is the usual case).
 */
export function declaredLengthHolds(value: string, length: number, method: string): boolean {
  if (!/^\d{1,15}$/.test(value)) return false;
  return Number(value) === length || (method === 'HEAD' && length === 0);
}

/** `headers` as a response with `status` may send them: without Content-Length where it is not allowed. */
export function framedHeaders(status: number, headers: Array<[string, string]>): Array<[string, string]> {
  return lengthAllowed(status) ? headers : headers.filter(([name]) => !isLength(name));
}

/** The same for node:http's flat [name, value, name, value…] header lists. */
export function framedFlatHeaders(status: number, flat: string[]): string[] {
  if (lengthAllowed(status)) return flat;
  const out: string[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i] ?? '';
    if (!isLength(name)) out.push(name, flat[i + 1] ?? '');
  }
  return out;
}
