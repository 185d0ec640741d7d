// An in-process loopback server that hands each connection to a protocol front-end
// (serveUwsgi / serveFastcgi) with an app, collecting log lines and request records. uwsgi runs
// through the worker's own gateway front-end, on either transport (`io`).
import net, { createServer, type Server, type Socket } from 'node:net';
import type { App } from '../../src/server/app/handler.js';
import { loadApp } from '../../src/server/app/load-app.js';
import type { GatewayIo } from '../../src/server/config/serve-config.js';
import { serveFastcgi } from '../../src/server/fastcgi/serve-fastcgi.js';
import { createGatewayFront } from '../../src/server/gateway/gateway-front.js';
import type { ProtocolLimits, RequestRecord, ServedConnection } from '../../src/server/protocol.js';
import { echoApp } from './paths.js';

export interface GatewayServer {
  port: number;
  logs: string[];
  records: RequestRecord[];
  connections: ServedConnection[];
  close: () => Promise<void>;
}

export const testLimits: ProtocolLimits = {
  bufferSize: 65535,
  limitPost: 0,
  headersTimeoutMs: 5000,
  bodyTimeoutMs: 5000,
  harakiriMs: 0,
};

type ServerHandle = object & { getsockname(out: { port?: number }): number };
const createServerHandle = (
  net as unknown as { _createServerHandle: (address: string, port: number, type: number) => ServerHandle }
)._createServerHandle;

/** The uwsgi front-end a worker runs, on a fresh loopback handle, with `io` as its transport. */
export async function startUwsgiGateway(
  options: { limits?: Partial<ProtocolLimits>; app?: App; io?: GatewayIo } = {},
): Promise<GatewayServer> {
  const app = options.app ?? (await loadApp(echoApp));
  const limits = { ...testLimits, ...options.limits };
  const logs: string[] = [];
  const records: RequestRecord[] = [];
  const front = createGatewayFront(
    'uwsgi',
    { app, limits, log: (line) => logs.push(line), onRequest: (r) => records.push(r) },
    { uwsgiAllowed: () => true, gatewayIo: options.io ?? 'libuv' },
  );
  const handle = createServerHandle('127.0.0.1', 0, 4);
  const bound: { port?: number } = {};
  handle.getsockname(bound);
  front.listen(handle, 511);
  return {
    port: bound.port ?? 0,
    logs,
    records,
    connections: [],
    // Open connections finish their one request (or time out) before the front-end is done.
    close: () => new Promise<void>((resolve) => front.drain(resolve)),
  };
}

/** serveFastcgi on a loopback net.Server (or a unix path with `listen`). */
export async function startFastcgiGateway(
  options: { limits?: Partial<ProtocolLimits>; app?: App; listen?: string | number } = {},
): Promise<GatewayServer & { server: Server }> {
  const app = options.app ?? (await loadApp(echoApp));
  const limits = { ...testLimits, ...options.limits };
  const logs: string[] = [];
  const records: RequestRecord[] = [];
  const connections: ServedConnection[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    connections.push(
      serveFastcgi(socket, {
        app,
        limits,
        log: (line) => logs.push(line),
        onRequest: (r) => records.push(r),
      }),
    );
  });
  await new Promise<void>((resolve) => {
    if (typeof options.listen === 'string') server.listen(options.listen, resolve);
    else server.listen(options.listen ?? 0, '127.0.0.1', resolve);
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    server,
    logs,
    records,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
