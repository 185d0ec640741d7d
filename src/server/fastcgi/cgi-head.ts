// The response head a FastCGI front-end writes into STDOUT: CGI-style (RFC 3875 §6), a
// `Status:` line, header lines, a blank line. nginx turns it into the client's status line.
import { STATUS_CODES } from 'node:http';
import type { ResponseHead } from '../app/response-sink.js';

export function cgiHead({ status, statusText, headers }: ResponseHead): Buffer {
  let text = `Status: ${status} ${statusText || STATUS_CODES[status] || 'Unknown'}\r\n`;
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  return Buffer.from(`${text}\r\n`, 'latin1');
}
