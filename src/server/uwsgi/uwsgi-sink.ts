// The ResponseSink of a uwsgi connection: raw HTTP head, then body bytes as they come; the end
// of the body is the end of the connection. An abort resets the connection, so nginx can tell a
// cut response from a complete one (with no Content-Length both end at a close).
import { bodyAllowed } from '../app/body-allowed.js';
import type { ResponseSink } from '../app/response-sink.js';
import type { GatewayConn } from '../gateway/conn.js';
import { httpHead, httpResponse } from './http-head.js';

export function uwsgiSink(
  conn: GatewayConn,
  method: string,
  onEnd: () => void,
  onHead?: () => void,
): ResponseSink {
  let withBody = true;
  // A streamed head waits for the first body bytes (or the end of the tick) so both leave in
  // one packet.
  let head: Buffer | undefined;
  const flushHead = (): void => {
    if (!head) return;
    const bytes = head;
    head = undefined;
    conn.write(bytes);
  };
  return {
    head(response) {
      onHead?.();
      withBody = bodyAllowed(method, response.status);
      if (conn.closed) return;
      // A streamed response leaves in several writes; Nagle would hold the last one back for the
      // peer's delayed ACK. (A whole response goes out in one write, see complete().)
      conn.noDelay();
      head = httpHead(response);
      process.nextTick(flushHead);
    },
    write(chunk) {
      if (!withBody || conn.closed) return undefined;
      let ok: boolean;
      if (head) {
        ok = conn.write(Buffer.concat([head, chunk]));
        head = undefined;
      } else {
        ok = conn.write(chunk);
      }
      return ok ? undefined : conn.drained();
    },
    end() {
      flushHead();
      onEnd();
    },
    abort() {
      head = undefined;
      conn.reset();
    },
    complete(response, body) {
      onHead?.();
      withBody = bodyAllowed(method, response.status);
      if (!conn.closed) conn.write(httpResponse(response, withBody ? body : undefined));
      onEnd();
    },
  };
}
