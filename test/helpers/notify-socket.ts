// A stand-in for PID 1's notify socket: an AF_UNIX datagram socket bound in a temp dir that
// collects every sd_notify message sent to it, for tests that pass it as NOTIFY_SOCKET.
import { createRequire } from 'node:module';

interface BoundSocket {
  bind(path: string): void;
  close(): void;
}

export interface NotifySocket {
  path: string;
  messages: string[];
  /** Resolves with the first message (after those already seen) matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  close(): void;
}

export function bindNotifySocket(path: string): NotifySocket {
  const dgram = createRequire(import.meta.url)('unix-dgram') as {
    createSocket(type: 'unix_dgram', onMessage: (buf: Buffer) => void): BoundSocket;
  };
  const messages: string[] = [];
  const socket = dgram.createSocket('unix_dgram', (buf) => messages.push(buf.toString()));
  socket.bind(path);
  let seen = 0;
  return {
    path,
    messages,
    async waitFor(pattern, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const at = messages.findIndex((m, i) => i >= seen && pattern.test(m));
        if (at >= 0) {
          seen = at + 1;
          return messages[at] as string;
        }
        if (Date.now() > deadline) {
          throw new Error(
            `no notify message matching ${pattern} in ${timeoutMs} ms; got ${JSON.stringify(messages)}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    close: () => socket.close(),
  };
}
