// The seed's Hello app: `doMagic()` and a fetch handler that answers with it.
// Importing this module has no side effects; the CLI/CGI entry lives in main.ts.

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** Local wall-clock time as `YYYY-MM-DD HH:MM:SS.ffffff`, the way Python prints `datetime.now()`. */
export function formatTimestamp(date: Date, micros = date.getMilliseconds() * 1000): string {
  const day = `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  return `${day} ${time}.${pad(micros, 6)}`;
}

/** Current time with microseconds: `Date` stops at milliseconds, the high-resolution clock does not. */
function nowWithMicros(): { date: Date; micros: number } {
  const epochMicros = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  const date = new Date(Math.floor(epochMicros / 1000));
  return { date, micros: epochMicros % 1_000_000 };
}

export function doMagic(now?: Date): string {
  if (now) return `Hello! ${formatTimestamp(now)}`;
  const { date, micros } = nowWithMicros();
  return `Hello! ${formatTimestamp(date, micros)}`;
}

export default {
  fetch(_request: Request): Response {
    return new Response(doMagic(), {
      status: 200,
      headers: { 'content-type': 'text/html; charset=utf-8' },
    });
  },
};
