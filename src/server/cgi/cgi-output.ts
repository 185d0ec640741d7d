// Where a CGI response's bytes go: a Writable (tests, other callers), or the process's stdout as
// a file descriptor written with fs.writeSync. process.stdout on a pipe, as Apache gives a CGI
// script, is a net.Socket: creating it loads node:net and the stream modules, about 3 ms of a
// process that answers in 20 (bench/cgi), for bytes a write(2) delivers as well.
import { writeSync, writevSync } from 'node:fs';
import type { Writable } from 'node:stream';

export interface CgiOutput {
  /** Queues all of `chunk`; a promise means: wait for it before writing more (backpressure). */
  write(chunk: Uint8Array): Promise<void> | undefined;
  /** Writes the chunks of `last`, if given, in order, and ends the output. */
  end(...last: Uint8Array[]): void;
  /** The response cannot be completed: nothing more is written. */
  destroy(): void;
}

export function streamOutput(out: Writable): CgiOutput {
  return {
    write: (chunk) => (out.write(chunk) ? undefined : new Promise((resolve) => out.once('drain', resolve))),
    end: (...last) => {
      for (const chunk of last) out.write(chunk);
      out.end();
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
  // The last chunks in one writev(2): the server reading the pipe wakes once for the whole
  // response rather than once per chunk (0.15–0.3 ms less CPU per Hello request, spawned in a loop).
  const writeLast = (chunks: Uint8Array[]): void => {
    if (fallback || closed || chunks.length < 2) {
      for (const chunk of chunks) void write(chunk);
      return;
    }
    let written: number;
    try {
      written = writevSync(fd, chunks);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') {
        closed = true;
        return;
      }
      written = 0;
    }
    for (const chunk of chunks) {
      if (written >= chunk.length) written -= chunk.length;
      else {
        void write(chunk.subarray(written));
        written = 0;
      }
    }
  };
  return {
    write,
    end(...last) {
      writeLast(last);
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
