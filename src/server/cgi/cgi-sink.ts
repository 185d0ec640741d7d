// A ResponseSink that writes an RFC 3875 CGI response: `Status:` and header lines, a blank
// line, then the body bytes as they come (the server frames them; EOF ends the body).
import type { Writable } from 'node:stream';
import type { ResponseSink } from '../app/response-sink.js';
import { cgiHead } from '../fastcgi/cgi-head.js';

export function cgiSink(out: Writable): ResponseSink {
  const write = (chunk: Uint8Array | string): Promise<void> | undefined =>
    out.write(chunk) ? undefined : new Promise((resolve) => out.once('drain', resolve));
  return {
    head(head) {
      void write(cgiHead(head));
    },
    write,
    end() {
      out.end();
    },
    complete(head, body) {
      // One write: the head and a body already in memory.
      const bytes = cgiHead(head);
      out.end(body && body.length > 0 ? Buffer.concat([bytes, body]) : bytes);
    },
    abort() {
      out.destroy();
    },
  };
}
