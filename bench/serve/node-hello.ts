// Hello on plain node:http, the peer pier is measured against. `CLUSTER=N` forks N workers with
// node:cluster; PM2 runs this same file in its cluster mode.
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import hello from './node-listener.js';

const workers = Number(process.env.CLUSTER ?? 0);
if (workers > 0 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
} else {
  createServer(hello).listen(Number(process.env.PORT), '127.0.0.1');
}
