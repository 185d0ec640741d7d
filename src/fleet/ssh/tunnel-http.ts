// An HTTP GET made from the host's point of view without running anything there: the request
// goes from here through a `direct-tcpip` channel of the host's SSH connection, and the host's
// sshd opens the TCP connection (its loopback, its resolver). A health probe costs the host no
// process (curl there costs about 5 ms of CPU per probe, most of it loading its libraries).
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { type Connection, ForwardingRefused } from './connection.js';
import { HostError } from './errors.js';

/** What a probe got: status 0 when nothing answered in HTTP (as curl's `%{http_code}` 000). */
export interface ProbeAnswer {
  status: number;
  body: string;
}

/** The body is read this far at most: enough for any health text, bounded for a wrong URL. */
const maxBody = 1024 * 1024;

/** Whether `url` can be probed through a tunnel: plain http (https stays with curl on the host). */
export function tunnelable(url: string): boolean {
  return url.startsWith('http://');
}

/**
 * GET `url` (an http:// URL, see `tunnelable`) as the host behind `connection` would, within
 * `timeoutMs` (channel, request and body): the status and up to 1 MiB of the body as UTF-8, or
 * status 0 when nothing answered in HTTP (refused, reset, timed out, not HTTP). Rejects with
 * ForwardingRefused (connection.ts) when the host's sshd allows no forwarding, and with HostError
 * FLEET_SSH_CHANNEL when the SSH connection is gone.
 */
export async function getThroughTunnel(
  connection: Connection,
  url: string,
  timeoutMs: number,
): Promise<ProbeAnswer> {
  const target = new URL(url);
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(target.port || 80);
  const deadline = Date.now() + timeoutMs;
  const channel = await openWithin(connection, connection.forward(host, port), timeoutMs);
  if (channel === undefined) return { status: 0, body: '' };
  return new Promise((resolve) => {
    let settled = false;
    const settle = (answer: ProbeAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      channel.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => settle({ status: 0, body: '' }), Math.max(0, deadline - Date.now()));
    const request = http.request(
      {
        method: 'GET',
        host: target.hostname,
        port,
        path: `${target.pathname}${target.search}`,
        headers: { host: target.host, 'user-agent': 'pier-health', connection: 'close' },
        // Credentials in the URL go as Basic auth, as curl sends them (RFC 7617).
        ...(target.username !== '' || target.password !== ''
          ? { auth: `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}` }
          : {}),
        createConnection: () => asSocket(channel),
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () =>
          settle({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        response.on('data', (chunk: Buffer) => {
          if (size >= maxBody) return;
          chunks.push(chunk.subarray(0, maxBody - size));
          size += chunk.length;
          if (size >= maxBody) done();
        });
        response.on('end', done);
        // A body cut short still carried its status line: the status is what was answered.
        response.on('error', done);
        response.on('aborted', done);
      },
    );
    request.on('error', () => settle({ status: 0, body: '' }));
    request.end();
  });
}

/** node:http asks its socket for these; a channel has no TCP options of its own to set. */
function asSocket(channel: Duplex): Duplex {
  const socket = channel as Duplex & Record<string, unknown>;
  const noop = () => socket;
  for (const name of ['setKeepAlive', 'setNoDelay', 'setTimeout', 'ref', 'unref']) socket[name] ??= noop;
  return socket;
}

/**
 * The channel, or undefined when it was not open within `ms` or the host's sshd could not
 * connect (then nothing answered); a channel opened too late is closed on arrival. Rejects with
 * ForwardingRefused as it came, and with HostError FLEET_SSH_CHANNEL when the SSH connection
 * itself is gone (that is no answer about the app).
 */
function openWithin(
  connection: Connection,
  opening: Promise<Duplex>,
  ms: number,
): Promise<Duplex | undefined> {
  return new Promise((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      resolve(undefined);
    }, ms);
    opening.then(
      (channel) => {
        clearTimeout(timer);
        if (late) channel.destroy();
        else resolve(channel);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (err instanceof ForwardingRefused) reject(err);
        else if (!connection.isOpen) {
          reject(
            new HostError('FLEET_SSH_CHANNEL', 'the SSH connection closed during the health check', {
              cause: err,
            }),
          );
        } else resolve(undefined);
      },
    );
  });
}
