// Harakiri for a worker whose event loop is stuck (a handler that spins). A stuck loop cannot
// run its own 504 timer, so a watchdog thread watches the in-flight requests: the main thread
// records each request's socket fd and start time in shared memory; when a request is still
// there a second after its harakiri deadline, the loop is stuck. The thread then writes a 504
// straight to that request's fd, a 503 to every other request waiting on this worker (so no
// client sees a bare reset), logs one line, and kills the process; the master respawns it.
import { Worker } from 'node:worker_threads';

/** Per slot: fd, start time (ms since epoch), state. */
const fields = 3;
export const SlotState = { free: 0, waiting: 1, headSent: 2 } as const;

export interface StallWatchdog {
  /** Track a request on `fd`; returns its slot, or -1 when untracked. */
  begin(fd: number): number;
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
    begin(fd) {
      const slot = free.pop();
      if (slot === undefined || fd < 0) return -1;
      shared[slot * fields] = fd;
      shared[slot * fields + 1] = Date.now();
      shared[slot * fields + 2] = SlotState.waiting;
      return slot;
    },
    headSent(slot) {
      if (slot >= 0) shared[slot * fields + 2] = SlotState.headSent;
    },
    end(slot) {
      if (slot < 0) return;
      shared[slot * fields + 2] = SlotState.free;
      free.push(slot);
    },
  };
}
