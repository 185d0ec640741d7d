// A ResponseSink that writes an RFC 3875 CGI response: `Status:` and header lines, a blank
// line, then the body bytes as they come (the server frames them; EOF ends the body).
import { STATUS_CODES } from 'node:http';
import type { Writable } from 'node:stream';
import type { ResponseSink } from '../app/response-sink.js';

export function cgiSink(out: Writable): ResponseSink {
  const write = (chunk: Uint8Array | string): Promise<void> | undefined =>
    out.write(chunk) ? undefined : new Promise((resolve) => out.once('drain', resolve));
  return {
    head({ status, statusText, headers }) {
      let text = `Status: ${status} ${statusText || STATUS_CODES[status] || 'Unknown'}\r\n`;
      for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
      void write(Buffer.from(`${text}\r\n`, 'latin1'));
    },
    write,
    end() {
      out.end();
    },
    abort() {
      out.destroy();
    },
  };
}
