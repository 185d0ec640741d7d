// A raw TCP client for protocol tests: sends bytes (optionally in slices, with pauses), reads
// until the server closes, and splits a raw HTTP response into status, headers and body.
import { connect, type Socket } from 'node:net';

export interface RawExchange {
  bytes: Buffer;
  /** How the connection ended: the server closed it, or reset it. */
  ended: 'close' | 'reset';
}

export function openSocket(port: number, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Reads everything the server sends until it closes the connection. */
export function readUntilClose(socket: Socket, timeoutMs = 10_000): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let reset = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server did not close the connection within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {
      reset = true;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ bytes: Buffer.concat(chunks), ended: reset ? 'reset' : 'close' });
    });
  });
}

export async function exchange(
  port: number,
  request: Buffer | Buffer[],
  options: { end?: boolean } = {},
): Promise<RawExchange> {
  const socket = await openSocket(port);
  const done = readUntilClose(socket);
  for (const part of [request].flat()) socket.write(part);
  if (options.end) socket.end();
  return done;
}

export interface ParsedHttp {
  statusLine: string;
  status: number;
  headers: Array<[string, string]>;
  body: Buffer;
}

/** Splits `HTTP/1.1 200 OK` or CGI `Status: 200 OK` heads from their bodies. */
export function parseHead(bytes: Buffer): ParsedHttp {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0)
    throw new Error(`no complete head in ${JSON.stringify(bytes.toString('latin1').slice(0, 200))}`);
  const [statusLine = '', ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const headers = lines.map((line): [string, string] => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
  });
  const match = /^(?:HTTP\/1\.1 |Status: )(\d{3})/.exec(statusLine);
  return { statusLine, status: Number(match?.[1] ?? 0), headers, body: bytes.subarray(end + 4) };
}
