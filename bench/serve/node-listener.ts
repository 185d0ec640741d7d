// Hello as a Node (req, res) listener module, for pier: the same listener node-hello.ts gives
// node:http and PM2, so the pier row and its peers run identical app code.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { doMagic } from '../../src/hello/hello.js';

export default function hello(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(doMagic());
}
