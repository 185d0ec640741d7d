// The watchdog thread of stall-watchdog.ts. It runs beside a worker's main thread and acts only
// when that thread's event loop is stuck; see stall-watchdog.ts for the protocol.
import { writeSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { combinedLine, jsonLine } from '../log/access-log.js';
import type { ProtocolName } from '../protocol.js';

const { buffer, texts, layout, accessLog, harakiriMs, label } = workerData as {
  buffer: SharedArrayBuffer;
  texts: SharedArrayBuffer | undefined;
  /** stall-watchdog.ts's slot layout. */
  layout: { fields: number; accessTextBytes: number; waiting: number };
  accessLog: 'combined' | 'json' | undefined;
  harakiriMs: number;
  label: string;
};
const shared = new Float64Array(buffer);
const { fields, accessTextBytes, waiting } = layout;

/** The access line of a request the thread answered, from what begin() copied; '' without. */
function accessLine(slot: number, status: number, bytes: number, now: number): string {
  const length = shared[slot * fields + 4] ?? 0;
  if (!texts || !accessLog || length <= 0) return '';
  const start = slot * accessTextBytes;
  // A copy first: TextDecoder does not read shared memory.
  const text = Buffer.from(new Uint8Array(texts, start, length)).toString('utf8');
  const [protocol, remoteAddress, method, target, referer, userAgent] = JSON.parse(text) as string[];
  const record = {
    protocol: protocol as ProtocolName,
    remoteAddress: remoteAddress ?? '',
    method: method ?? '',
    target: target ?? '',
    status,
    bytes,
    durationMs: now - (shared[slot * fields + 1] ?? now),
    referer: referer ?? '',
    userAgent: userAgent ?? '',
  };
  return accessLog === 'json' ? jsonLine(record, now) : combinedLine(record, now);
}

/** A FastCGI record: version 1, type, request id, content length, no padding. */
function record(type: number, requestId: number, content: Buffer): Buffer {
  const header = Buffer.from([
    1,
    type,
    requestId >> 8,
    requestId & 0xff,
    content.length >> 8,
    content.length & 0xff,
    0,
    0,
  ]);
  return Buffer.concat([header, content]);
}

/** Writes `status` to the request on `fd`; returns the body's length. */
function answer(fd: number, status: string, fastcgiId: number): number {
  const body = `${status}\n`;
  const head = `content-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\n`;
  const bytes =
    fastcgiId < 0
      ? Buffer.from(`HTTP/1.1 ${status}\r\n${head}connection: close\r\n\r\n${body}`)
      : Buffer.concat([
          record(6, fastcgiId, Buffer.from(`Status: ${status}\r\n${head}\r\n${body}`)),
          record(6, fastcgiId, Buffer.alloc(0)),
          record(3, fastcgiId, Buffer.alloc(8)), // END_REQUEST: app status 0, REQUEST_COMPLETE
        ]);
  try {
    writeSync(fd, bytes);
  } catch {
    // the client is gone already
  }
  return body.length;
}

setInterval(() => {
  const now = Date.now();
  let stuck = -1;
  for (let slot = 0; slot < shared.length / fields; slot++) {
    const state = shared[slot * fields + 2];
    if (state && now - (shared[slot * fields + 1] ?? now) > harakiriMs + 1000) {
      stuck = slot;
      break;
    }
  }
  if (stuck < 0) return;
  let lines = '';
  for (let slot = 0; slot < shared.length / fields; slot++) {
    if (shared[slot * fields + 2] !== waiting) continue;
    const status = slot === stuck ? '504 Gateway Timeout' : '503 Service Unavailable';
    const bytes = answer(shared[slot * fields] ?? -1, status, shared[slot * fields + 3] ?? -1);
    lines += accessLine(slot, Number.parseInt(status, 10), bytes, now);
  }
  if (lines) writeSync(1, lines);
  const seconds = ((now - (shared[stuck * fields + 1] ?? now)) / 1000).toFixed(1);
  writeSync(
    2,
    `${new Date(now).toISOString()} pier[${label}] WARN worker.harakiri pid=${process.pid} stuckSeconds=${seconds} action=kill\n`,
  );
  process.kill(process.pid, 'SIGKILL');
}, 100);
