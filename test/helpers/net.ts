// Loopback helpers for integration tests: free ports, waiting for a listener, HTTP requests
// with full control over repeated headers and raw bodies.

import { execFile } from 'node:child_process';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function waitForPort(port: number, timeoutMs = 10_000, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, host);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer | string;
  /** Send the body with Transfer-Encoding: chunked instead of Content-Length. */
  chunked?: boolean;
  socketPath?: string;
}

export function http(url: string, options: HttpOptions = {}): Promise<HttpResult> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: options.method ?? 'GET',
        socketPath: options.socketPath,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    for (const [name, value] of Object.entries(options.headers ?? {})) req.setHeader(name, value);
    if (options.body !== undefined && !options.chunked) {
      req.setHeader('content-length', Buffer.byteLength(options.body));
    }
    if (options.body !== undefined && options.chunked) {
      const body = Buffer.from(options.body);
      for (let at = 0; at < body.length; at += 64 * 1024) req.write(body.subarray(at, at + 64 * 1024));
      req.end();
    } else {
      req.end(options.body);
    }
  });
}

function establishedInodes(ports: number[]): Promise<Set<string> | undefined> {
  const filter = ports.map((port) => `dport = :${port}`).join(' or ');
  return new Promise((resolve) =>
    execFile(
      'ss',
      ['-tnHe', 'state', 'established', `( ${filter} )`],
      { maxBuffer: 64 << 20 },
      (err, stdout) =>
        resolve(err ? undefined : new Set(stdout.match(/ ino:\d+/g)?.map((inode) => inode.trim()) ?? [])),
    ),
  );
}

/**
 * How many TCP connections to any of `ports` were ESTABLISHED at one instant, counted by `ss`
 * from outside the process that holds them; -1 when `ss` fails. One dump of the kernel's socket
 * table is not a snapshot (it walks the table bucket by bucket), so a connection that closes
 * and one that opens while it runs can both be listed. So it takes two dumps back to back and
 * counts the sockets (by inode) listed in both: a socket is established over one unbroken
 * span, so each of them was established from the end of the first dump to the start of the
 * second, all at once. It never counts more than were open together; it can miss an overshoot
 * shorter than one `ss` run.
 */
export async function establishedTogether(ports: number[]): Promise<number> {
  const first = await establishedInodes(ports);
  const second = await establishedInodes(ports);
  if (!first || !second) return -1;
  let both = 0;
  for (const inode of second) if (first.has(inode)) both++;
  return both;
}
