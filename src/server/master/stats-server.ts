// The stats socket: every connection gets one JSON document describing the master and its
// workers, then the connection closes (what uWSGI's stats server does).
import { unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { Address } from '../config/values.js';
import { ServerError } from '../errors.js';

export function startStatsServer(address: Address, stats: () => object): Promise<Server> {
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.end(`${JSON.stringify(stats(), null, 2)}\n`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new ServerError('STATS', `cannot serve stats: ${err.message}`)));
    if (address.kind === 'tcp') server.listen(address.port, address.host, () => resolve(server));
    else if (address.kind === 'unix') {
      try {
        unlinkSync(address.path);
      } catch {
        // no stale socket
      }
      server.listen(address.path, () => resolve(server));
    } else reject(new ServerError('STATS', 'the stats server cannot use a socket-activated descriptor'));
  });
}
