// Harakiri for a worker whose event loop is stuck (a handler that spins). A stuck loop cannot
// run its own 504 timer, so a watchdog thread watches the in-flight requests: the main thread
// records each request's socket fd, start time and framing in shared memory; when a request is
// still there a second after its harakiri deadline, the loop is stuck. The thread then writes a
// 504 straight to that request's fd (raw HTTP for HTTP and uwsgi, STDOUT + END_REQUEST records
// for FastCGI), a 503 to every other request waiting on this worker (so no client sees a bare
// reset), writes their access-log lines and one log record, and kills the process; the master
// respawns it. With an access log, each request's client, method, target, referer and user
// agent are copied to shared memory as it begins (the stuck thread cannot be asked later).
import { Worker } from 'node:worker_threads';
import type { RequestRecord } from '../protocol.js';

/** Per slot: fd, start time (ms since epoch), state, FastCGI request id (-1: raw HTTP), bytes of its access text. */
const fields = 5;
export const SlotState = { free: 0, waiting: 1, headSent: 2 } as const;
/** Bytes of shared memory per slot for what the access line needs; longer fields are cut. */
const accessTextBytes = 1024;
const fieldChars = 160;

/** What begin() needs to write a request's access line: the record's fields but the result. */
export type AccessFields = Pick<
  RequestRecord,
  'protocol' | 'remoteAddress' | 'method' | 'target' | 'referer' | 'userAgent'
>;

export interface StallWatchdog {
  /**
   * Track a request on `fd` (`fastcgiId` for FastCGI framing); returns its slot, or -1.
   * `describe` is called at once, and only when there is an access log.
   */
  begin(fd: number, fastcgiId?: number, describe?: () => AccessFields): number;
  headSent(slot: number): void;
  end(slot: number): void;
}

/**
 * `accessLog`: the worker's access-log format, or undefined without one (disable-logging):
 * then no request's fields are copied.
 */
export function startStallWatchdog(
  harakiriMs: number,
  label: string,
  accessLog?: 'combined' | 'json',
  capacity = 4096,
): StallWatchdog {
  const shared = new Float64Array(new SharedArrayBuffer(capacity * fields * 8));
  const texts = accessLog ? new Uint8Array(new SharedArrayBuffer(capacity * accessTextBytes)) : undefined;
  const encoder = new TextEncoder();
  const free: number[] = [];
  for (let slot = capacity - 1; slot >= 0; slot--) free.push(slot);
  const thread = new Worker(new URL('./stall-thread.js', import.meta.url), {
    // The slot layout travels with the memory: the thread has no copy of its own to drift.
    workerData: {
      buffer: shared.buffer,
      texts: texts?.buffer,
      layout: { fields, accessTextBytes, waiting: SlotState.waiting },
      accessLog,
      harakiriMs,
      label,
    },
  });
  thread.unref();
  return {
    begin(fd, fastcgiId = -1, describe) {
      const slot = free.pop();
      if (slot === undefined || fd < 0) return -1;
      shared[slot * fields] = fd;
      shared[slot * fields + 1] = Date.now();
      shared[slot * fields + 2] = SlotState.waiting;
      shared[slot * fields + 3] = fastcgiId;
      shared[slot * fields + 4] = 0;
      if (texts && describe) {
        const r = describe();
        const cut = (text: string) => (text.length > fieldChars ? text.slice(0, fieldChars) : text);
        const json = JSON.stringify([
          r.protocol,
          cut(r.remoteAddress),
          cut(r.method),
          cut(r.target),
          cut(r.referer),
          cut(r.userAgent),
        ]);
        const area = texts.subarray(slot * accessTextBytes, (slot + 1) * accessTextBytes);
        const { read, written } = encoder.encodeInto(json, area);
        // Six fields of at most 160 UTF-16 units fit; anything cut short is left out whole.
        shared[slot * fields + 4] = read === json.length ? written : 0;
      }
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
