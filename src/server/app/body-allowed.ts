// Whether a response may carry a body (RFC 9110 §6.4.1): not for HEAD, 1xx, 204 or 304.
// Sinks drop body bytes an app writes anyway, so the web server never sees them.
export function bodyAllowed(method: string, status: number): boolean {
  return method !== 'HEAD' && status >= 200 && status !== 204 && status !== 304;
}
