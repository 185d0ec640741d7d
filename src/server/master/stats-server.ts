// The stats socket: every connection gets one JSON document describing the master and its
// workers, then the connection closes (what uWSGI's stats server does).
import { createServer, type Server } from 'node:net';
import type { Address } from '../config/values.js';
import { ServerError } from '../errors.js';
import { checkSocketPath, placeSocket, removeOwnSocket, stagingPath } from './socket-file.js';

export interface StatsServer {
  server: Server;
  /** Stops serving; with `vacuum`, removes the unix socket file it created. */
  close(vacuum: boolean): void;
}

export async function startStatsServer(address: Address, stats: () => Promise<object>): Promise<StatsServer> {
  const server = createServer((socket) => {
    socket.on('error', () => {});
    void stats().then((document) => socket.end(`${JSON.stringify(document, null, 2)}\n`));
  });
  if (address.kind === 'fd')
    throw new ServerError('STATS', 'the stats server cannot use a socket-activated descriptor');
  const file = address.kind === 'unix' && !address.path.startsWith('@') ? address.path : undefined;
  if (file) await checkSocketPath(file, 'stats');
  const at = file ? stagingPath(file, 'stats') : undefined;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new ServerError('STATS', `cannot serve stats: ${err.message}`)));
    if (address.kind === 'tcp') server.listen(address.port, address.host, resolve);
    else server.listen(at ?? address.path.replace(/^@/, '\0'), resolve);
  });
  let ino: number | undefined;
  if (file && at) {
    try {
      ino = placeSocket(at, file);
    } catch (err) {
      server.close();
      throw new ServerError('STATS', `cannot serve stats on ${file}: ${(err as Error).message}`);
    }
  }
  return {
    server,
    close(vacuum) {
      server.close();
      if (vacuum && file && ino !== undefined) removeOwnSocket(file, ino);
    },
  };
}
