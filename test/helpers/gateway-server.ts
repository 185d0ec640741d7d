// An in-process loopback server that hands each connection to a protocol front-end
// (serveUwsgi / serveFastcgi) with an app, collecting log lines and request records.
import { createServer, type Server, type Socket } from 'node:net';
import type { App } from '../../src/server/app/handler.js';
import { loadApp } from '../../src/server/app/load-app.js';
import { serveFastcgi } from '../../src/server/fastcgi/serve-fastcgi.js';
import type { ProtocolLimits, RequestRecord, ServedConnection } from '../../src/server/protocol.js';
import { serveUwsgi } from '../../src/server/uwsgi/serve-uwsgi.js';
import { echoApp } from './paths.js';

export interface GatewayServer {
  port: number;
  server: Server;
  logs: string[];
  records: RequestRecord[];
  connections: ServedConnection[];
  close: () => Promise<void>;
}

export const testLimits: ProtocolLimits = {
  bufferSize: 65535,
  limitPost: 0,
  headersTimeoutMs: 5000,
  harakiriMs: 0,
};

export async function startGateway(
  protocol: 'uwsgi' | 'fastcgi',
  options: { limits?: Partial<ProtocolLimits>; app?: App; listen?: string | number } = {},
): Promise<GatewayServer> {
  const app = options.app ?? (await loadApp(echoApp));
  const limits = { ...testLimits, ...options.limits };
  const logs: string[] = [];
  const records: RequestRecord[] = [];
  const connections: ServedConnection[] = [];
  const sockets = new Set<Socket>();
  const serve = protocol === 'uwsgi' ? serveUwsgi : serveFastcgi;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    connections.push(
      serve(socket, { app, limits, log: (line) => logs.push(line), onRequest: (r) => records.push(r) }),
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
