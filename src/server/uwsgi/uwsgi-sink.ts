// The ResponseSink of a uwsgi connection: raw HTTP head, then body bytes as they come; the end
// of the body is the end of the connection. An abort resets the connection, so nginx can tell a
// cut response from a complete one (with no Content-Length both end at a close).
import type { Socket } from 'node:net';
import type { ResponseSink } from '../app/response-sink.js';
import { bodyAllowed } from '../gateway/body-allowed.js';
import { writeAll } from '../gateway/socket-write.js';
import { httpHead } from './http-head.js';

export function uwsgiSink(socket: Socket, method: string, onEnd: () => void): ResponseSink {
  let withBody = true;
  return {
    head(head) {
      withBody = bodyAllowed(method, head.status);
      if (socket.destroyed) return;
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
  };
}
