// The ResponseSink of a uwsgi connection: raw HTTP head, then body bytes as they come; the end
// of the body is the end of the connection. An abort resets the connection, so nginx can tell a
// cut response from a complete one (with no Content-Length both end at a close).
import type { Socket } from 'node:net';
import { bodyAllowed } from '../app/body-allowed.js';
import type { ResponseSink } from '../app/response-sink.js';
import { writeAll } from '../gateway/socket-write.js';
import { httpHead } from './http-head.js';

export function uwsgiSink(
  socket: Socket,
  method: string,
  onEnd: () => void,
  onHead?: () => void,
): ResponseSink {
  let withBody = true;
  return {
    head(head) {
      onHead?.();
      withBody = bodyAllowed(method, head.status);
      if (socket.destroyed) return;
      // A streamed response leaves in several writes; Nagle would hold the last one back for the
      // peer's delayed ACK. (A whole response goes out in one write, see complete().)
      socket.setNoDelay(true);
      // Corked until the next tick so the head and the first body bytes leave in one packet.
      socket.cork();
      socket.write(httpHead(head));
      process.nextTick(() => socket.uncork());
    },
    write(chunk) {
      return withBody ? writeAll(socket, [chunk]) : undefined;
    },
    end() {
      onEnd();
    },
    abort() {
      if (!socket.destroyed) socket.resetAndDestroy();
    },
    complete(head, body) {
      onHead?.();
      withBody = bodyAllowed(method, head.status);
      if (!socket.destroyed) {
        const bytes = httpHead(head);
        socket.write(withBody && body && body.length > 0 ? Buffer.concat([bytes, body]) : bytes);
      }
      onEnd();
    },
  };
}
