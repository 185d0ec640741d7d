// A FastCGI client for protocol tests: reads the records a responder sends back and collects
// STDOUT, STDERR and END_REQUEST per request, independently of the code under test.
import type { Socket } from 'node:net';

export interface FastcgiReply {
  type: number;
  requestId: number;
  content: Buffer;
}

export class ReplyReader {
  private pending = Buffer.alloc(0);
  private readonly waiters: Array<() => void> = [];
  readonly replies: FastcgiReply[] = [];
  closed = false;

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      while (this.pending.length >= 8) {
        const length = this.pending.readUInt16BE(4);
        const total = 8 + length + (this.pending[6] ?? 0);
        if (this.pending.length < total) break;
        this.replies.push({
          type: this.pending[1] ?? 0,
          requestId: this.pending.readUInt16BE(2),
          content: Buffer.from(this.pending.subarray(8, 8 + length)),
        });
        this.pending = this.pending.subarray(total);
      }
      this.wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Waits until `done(replies)` holds or the connection closes. */
  async until(done: (replies: FastcgiReply[]) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.replies) && !this.closed) {
      if (Date.now() > deadline) throw new Error(`no expected FastCGI reply within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for END_REQUEST of `requestId`, then takes that request's replies off the list. */
  async response(requestId: number, timeoutMs = 10_000): Promise<FastcgiResponse> {
    const isEnd = (r: FastcgiReply): boolean => r.type === 3 && r.requestId === requestId;
    await this.until((replies) => replies.some(isEnd), timeoutMs);
    const end = this.replies.find(isEnd);
    const mine = this.replies.filter((r) => r.requestId === requestId);
    this.replies.splice(0, this.replies.length, ...this.replies.filter((r) => r.requestId !== requestId));
    const stdout = mine.filter((r) => r.type === 6);
    return {
      stdout: Buffer.concat(stdout.map((r) => r.content)),
      stdoutClosed: stdout.at(-1)?.content.length === 0,
      end: end ? { appStatus: end.content.readUInt32BE(0), protocolStatus: end.content[4] ?? -1 } : null,
    };
  }
}

export interface FastcgiResponse {
  stdout: Buffer;
  /** An empty STDOUT record ended the stream. */
  stdoutClosed: boolean;
  /** null when the connection closed without END_REQUEST. */
  end: { appStatus: number; protocolStatus: number } | null;
}
