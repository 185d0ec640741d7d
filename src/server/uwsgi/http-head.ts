// The response head a uwsgi front-end writes: a raw HTTP/1.1 status line and header lines, as
// uWSGI itself answers nginx. The body follows unframed and ends when the connection closes.
import { STATUS_CODES } from 'node:http';
import type { ResponseHead } from '../app/response-sink.js';

export function httpHead({ status, statusText, headers }: ResponseHead): Buffer {
  let text = `HTTP/1.1 ${status} ${statusText || STATUS_CODES[status] || 'Unknown'}\r\n`;
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  return Buffer.from(`${text}\r\n`, 'latin1');
}
