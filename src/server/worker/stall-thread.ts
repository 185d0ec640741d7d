// The watchdog thread of stall-watchdog.ts. It runs beside a worker's main thread and acts only
// when that thread's event loop is stuck; see stall-watchdog.ts for the protocol.
import { writeSync } from 'node:fs';
import { workerData } from 'node:worker_threads';

const { buffer, harakiriMs, label } = workerData as {
  buffer: SharedArrayBuffer;
  harakiriMs: number;
  label: string;
};
const shared = new Float64Array(buffer);
const fields = 3;
const waiting = 1;

function answer(fd: number, status: string): void {
  const body = `${status}\n`;
  const text = `HTTP/1.1 ${status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`;
  try {
    writeSync(fd, text);
  } catch {
    // the client is gone already
  }
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
  for (let slot = 0; slot < shared.length / fields; slot++) {
    if (shared[slot * fields + 2] !== waiting) continue;
    answer(shared[slot * fields] ?? -1, slot === stuck ? '504 Gateway Timeout' : '503 Service Unavailable');
  }
  const seconds = ((now - (shared[stuck * fields + 1] ?? now)) / 1000).toFixed(1);
  writeSync(
    2,
    `${new Date(now).toISOString()} pier[${label}] WARN worker.harakiri pid=${process.pid} stuckSeconds=${seconds} action=kill\n`,
  );
  process.kill(process.pid, 'SIGKILL');
}, 100);
