// A ResponseSink that writes an RFC 3875 CGI response: `Status:` and header lines, a blank
// line, then the body bytes as they come (the server frames them; EOF ends the body).
import type { ResponseSink } from '../app/response-sink.js';
import { cgiHead } from '../fastcgi/cgi-head.js';
import type { CgiOutput } from './cgi-output.js';

export function cgiSink(out: CgiOutput): ResponseSink {
  return {
    head(head) {
      void out.write(cgiHead(head));
    },
    write: (chunk) => out.write(chunk),
    end() {
      out.end();
    },
    complete(head, body) {
      // Head and body as they are, in one writev: copying them into one buffer costs more.
      if (body && body.length > 0) out.end(cgiHead(head), body);
      else out.end(cgiHead(head));
    },
    abort() {
      out.destroy();
    },
  };
}
