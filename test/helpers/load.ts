// Runs wrk against a URL and reads what a user would care about: requests, non-2xx responses
// and socket errors.
import { spawn } from 'node:child_process';

export interface LoadResult {
  requests: number;
  requestsPerSecond: number;
  non2xx: number;
  socketErrors: number;
  raw: string;
}

export function parseWrk(raw: string): LoadResult {
  const number = (pattern: RegExp): number => Number(raw.match(pattern)?.[1] ?? 0);
  const errors = raw.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  return {
    requests: number(/(\d+) requests in/),
    requestsPerSecond: number(/Requests\/sec:\s+([\d.]+)/),
    non2xx: number(/Non-2xx or 3xx responses: (\d+)/),
    socketErrors: errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    raw,
  };
}

export function wrk(url: string, seconds: number, connections = 16, threads = 2): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', url]);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      out += text;
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      out += text;
    });
    child.on('error', (err) =>
      reject(new Error(`wrk could not run (${err.message}); npm test installs it as root`)),
    );
    child.on('exit', (code) =>
      code === 0 ? resolve(parseWrk(out)) : reject(new Error(`wrk exited ${code}: ${out}`)),
    );
  });
}
