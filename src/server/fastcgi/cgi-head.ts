// The response head a FastCGI front-end writes into STDOUT: CGI-style (RFC 3875 §6), a
// `Status:` line, header lines, a blank line. nginx turns it into the client's status line;
// CGI (cgi-sink.ts) writes the same head to stdout.
import { reasonPhrase } from '../app/reason-phrase.js';
import type { ResponseHead } from '../app/response-sink.js';

/**
 * The head as RFC 3875 §6 has a script write it. An app header named `Status` is left out: it
 * is the CGI control field the server takes the status from (§6.3.3), and the app's status is
 * already on the first line. A response that may have a body gets `Content-Type:
 * application/octet-stream` when the app gave none: a script MUST send one (§6.3.1), and
 * without it Apache labels the body by the script's own extension (text/javascript); RFC 9110
 * §8.3 lets a recipient assume application/octet-stream.
 */
export function cgiHead({ status, statusText, headers }: ResponseHead): Buffer {
  let text = `Status: ${status} ${statusText || reasonPhrase(status) || 'Unknown'}\r\n`;
  let typed = status === 204 || status === 304 || status < 200;
  for (const [name, value] of headers) {
    if (name.length === 6 && name.toLowerCase() === 'status') continue;
    if (!typed && name.length === 12 && name.toLowerCase() === 'content-type') typed = true;
    text += `${name}: ${value}\r\n`;
  }
  if (!typed) text += 'content-type: application/octet-stream\r\n';
  return Buffer.from(`${text}\r\n`, 'latin1');
}
