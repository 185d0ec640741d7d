// Harakiri for a worker whose event loop is stuck (a handler that spins). A stuck loop cannot
// run its own 504 timer, so a watchdog thread watches the in-flight requests: the main thread
// records each request's socket fd, start time and framing in shared memory; when a request is
// still there a second after its harakiri deadline, the loop is stuck. The thread then writes a
// 504 straight to that request's fd (raw HTTP for HTTP and uwsgi, STDOUT + END_REQUEST records
// for FastCGI), a 503 to every other request waiting on this worker (so no client sees a bare
// reset), logs one line, and kills the process; the master respawns it.
import { Worker } from 'node:worker_threads';

/** Per slot: fd, start time (ms since epoch), state, FastCGI request id (-1: raw HTTP). */
const fields = 4;
export const SlotState = { free: 0, waiting: 1, headSent: 2 } as const;

export interface StallWatchdog {
  /** Track a request on `fd` (`fastcgiId` for FastCGI framing); returns its slot, or -1. */
  begin(fd: number, fastcgiId?: number): number;
  headSent(slot: number): void;
  end(slot: number): void;
}

export function startStallWatchdog(harakiriMs: number, label: string, capacity = 4096): StallWatchdog {
  const shared = new Float64Array(new SharedArrayBuffer(capacity * fields * 8));
  const free: number[] = [];
  for (let slot = capacity - 1; slot >= 0; slot--) free.push(slot);
  const thread = new Worker(new URL('./stall-thread.js', import.meta.url), {
    workerData: { buffer: shared.buffer, harakiriMs, label },
  });
  thread.unref();
  return {
    begin(fd, fastcgiId = -1) {
      const slot = free.pop();
      if (slot === undefined || fd < 0) return -1;
      shared[slot * fields] = fd;
      shared[slot * fields + 1] = Date.now();
      shared[slot * fields + 2] = SlotState.waiting;
      shared[slot * fields + 3] = fastcgiId;
      return slot;
    },
    headSent(slot) {
      if (slot >= 0) shared[slot * fields + 2] = SlotState.headSent;
    },
    end(slot) {
      if (slot < 0 || shared[slot * fields + 2] === SlotState.free) return;
      shared[slot * fields + 2] = SlotState.free;
      free.push(slot);
    },
  };
}

/** The fd of a connected socket, for the watchdog thread's direct writes; -1 when unknown. */
export function socketFd(socket: unknown): number {
  return (socket as { _handle?: { fd?: number } })._handle?.fd ?? -1;
}
