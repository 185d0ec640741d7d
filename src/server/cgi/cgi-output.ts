// Where a CGI response's bytes go: a Writable (tests, other callers), or the process's stdout as
// a file descriptor written with fs.writeSync. process.stdout on a pipe, as Apache gives a CGI
// script, is a net.Socket: creating it loads node:net and the stream modules, about 3 ms of a
// process that answers in 20 (bench/cgi), for bytes a write(2) delivers as well.
import { writeSync } from 'node:fs';
import type { Writable } from 'node:stream';

export interface CgiOutput {
  /** Queues all of `chunk`; a promise means: wait for it before writing more (backpressure). */
  write(chunk: Uint8Array): Promise<void> | undefined;
  /** Writes `last`, if given, and ends the output. */
  end(last?: Uint8Array): void;
  /** The response cannot be completed: nothing more is written. */
  destroy(): void;
}

export function streamOutput(out: Writable): CgiOutput {
  return {
    write: (chunk) => (out.write(chunk) ? undefined : new Promise((resolve) => out.once('drain', resolve))),
    end: (last) => {
      out.end(last);
    },
    destroy: () => {
      out.destroy();
    },
  };
}

/**
 * Output to file descriptor `fd` with write(2), as long as the descriptor takes whole writes.
 * The descriptor may be non-blocking (a pipe the server set O_NONBLOCK on, or shares with a
 * process that did): on EAGAIN the rest of that chunk, and everything after it, goes through
 * `stream()` (process.stdout), which waits for the pipe to drain; bytes stay in order, as
 * nothing is written to the descriptor directly after that. Any other error (EPIPE: the server
 * closed the pipe) means no one reads the response any more; the rest is dropped.
 */
export function descriptorOutput(fd: number, stream: () => Writable): CgiOutput {
  let fallback: CgiOutput | undefined;
  let closed = false;
  const write = (chunk: Uint8Array): Promise<void> | undefined => {
    if (fallback) return fallback.write(chunk);
    let written = 0;
    while (!closed && written < chunk.length) {
      try {
        written += writeSync(fd, chunk, written);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') {
          closed = true;
          break;
        }
        fallback = streamOutput(stream());
        return fallback.write(chunk.subarray(written));
      }
    }
    return undefined;
  };
  return {
    write,
    end(last) {
      if (last) write(last);
      fallback?.end();
      closed = true;
    },
    destroy() {
      fallback?.destroy();
      closed = true;
    },
  };
}

/** The process's stdout (fd 1), with process.stdout created only if a write would block. */
export const stdoutOutput = (): CgiOutput => descriptorOutput(1, () => process.stdout);
