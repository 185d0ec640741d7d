// The response head a FastCGI front-end writes into STDOUT: CGI-style (RFC 3875 §6), a
// `Status:` line, header lines, a blank line. nginx turns it into the client's status line;
// CGI (cgi-sink.ts) writes the same head to stdout.
import { reasonPhrase } from '../app/reason-phrase.js';
import type { ResponseHead } from '../app/response-sink.js';

export function cgiHead({ status, statusText, headers }: ResponseHead): Buffer {
  let text = `Status: ${status} ${statusText || reasonPhrase(status) || 'Unknown'}\r\n`;
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  return Buffer.from(`${text}\r\n`, 'latin1');
}
