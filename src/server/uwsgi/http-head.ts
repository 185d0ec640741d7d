// The response head a uwsgi front-end writes: a raw HTTP/1.1 status line and header lines, as
// uWSGI itself answers nginx. The body follows unframed and ends when the connection closes.
import { STATUS_CODES } from 'node:http';
import type { ResponseHead } from '../app/response-sink.js';

export function httpHeadText({ status, statusText, headers }: ResponseHead): string {
  let text = `HTTP/1.1 ${status} ${statusText || STATUS_CODES[status] || 'Unknown'}\r\n`;
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  return `${text}\r\n`;
}

export function httpHead(head: ResponseHead): Buffer {
  return Buffer.from(httpHeadText(head), 'latin1');
}

/** Head and whole body in one buffer, for a single write. */
export function httpResponse(head: ResponseHead, body: Uint8Array | undefined): Buffer {
  const text = httpHeadText(head);
  if (!body || body.length === 0) return Buffer.from(text, 'latin1');
  const bytes = Buffer.allocUnsafe(text.length + body.length);
  bytes.write(text, 0, 'latin1');
  bytes.set(body, text.length);
  return bytes;
}
