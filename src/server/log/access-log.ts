// The access log: one line per request, Apache "combined" or JSON. Lines are batched and
// written every few milliseconds, so logging costs one write per batch instead of per request.
import type { RequestRecord } from '../protocol.js';

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number): string => (n < 10 ? `0${n}` : String(n));

let stampSecond = -1;
let stamp = '';
/** `[28/Nov/2026:13:45:01 +0000]`, computed once per second. */
function clfTime(now: number): string {
  const second = Math.floor(now / 1000);
  if (second !== stampSecond) {
    const d = new Date(second * 1000);
    stamp = `${pad(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
    stampSecond = second;
  }
  return stamp;
}

const quote = (value: string): string => (value ? JSON.stringify(value).slice(1, -1) : '-');

export function combinedLine(r: RequestRecord, now: number): string {
  return `${r.remoteAddress || '-'} - - [${clfTime(now)}] "${quote(r.method)} ${quote(r.target)} HTTP/1.1" ${r.status} ${r.bytes} "${quote(r.referer)}" "${quote(r.userAgent)}" ${r.durationMs.toFixed(3)}ms\n`;
}

export function jsonLine(r: RequestRecord, now: number): string {
  // Field by field: a record may compute some of them in getters, which a spread would miss.
  const line = {
    time: new Date(now).toISOString(),
    event: 'request',
    protocol: r.protocol,
    remoteAddress: r.remoteAddress,
    method: r.method,
    target: r.target,
    status: r.status,
    bytes: r.bytes,
    durationMs: r.durationMs,
    referer: r.referer,
    userAgent: r.userAgent,
  };
  return `${JSON.stringify(line)}\n`;
}

export interface AccessLog {
  record(record: RequestRecord): void;
  /** Write what is batched now (before exit). */
  flush(): void;
}

export function createAccessLog(format: 'combined' | 'json', write: (text: string) => void): AccessLog {
  const line = format === 'json' ? jsonLine : combinedLine;
  let pending = '';
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (!pending) return;
    const text = pending;
    pending = '';
    write(text);
  };
  return {
    record(record) {
      pending += line(record, Date.now());
      if (pending.length > 64 * 1024) flush();
      else if (!scheduled) {
        scheduled = true;
        setTimeout(flush, 5).unref();
      }
    },
    flush,
  };
}
