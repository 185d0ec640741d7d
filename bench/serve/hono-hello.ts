// The seed's fetch handler (src/hello/hello.ts) on @hono/node-server, the most used fetch-to-Node
// adapter, with N workers under node:cluster (`CLUSTER=N`): the peer of pier's fetch path.
import cluster from 'node:cluster';
import { serve } from '@hono/node-server';
import hello from '../../src/hello/hello.js';

const workers = Number(process.env.CLUSTER ?? 0);
if (workers > 0 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
} else {
  serve({ fetch: (request) => hello.fetch(request), port: Number(process.env.PORT), hostname: '127.0.0.1' });
}
