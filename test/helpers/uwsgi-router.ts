// uWSGI's HTTP router (Debian uwsgi-core, its http plugin) in front of a uwsgi socket, in the
// foreground under its master: `--http-chunked-input` passes chunked uploads on as they came,
// after the vars and without CONTENT_LENGTH. uWSGI's master reloads on SIGTERM; SIGINT stops it.

import { configDir, type Foreground, startForeground } from './foreground.js';
import { freePort } from './net.js';

export interface UwsgiRouter extends Foreground {
  url: string;
}

/** `upstream` is `host:port` or a unix socket path. */
export async function startUwsgiRouter(upstream: string, extra: string[] = []): Promise<UwsgiRouter> {
  const dir = configDir('uwsgi-router');
  const port = await freePort();
  const args = [
    '--plugin',
    'http',
    '--master',
    '--http',
    `127.0.0.1:${port}`,
    '--http-to',
    upstream,
    '--http-processes',
    '1',
    ...extra,
  ];
  const server = await startForeground(dir, '/usr/bin/uwsgi-core', args, [port], 'SIGINT');
  return { ...server, url: `http://127.0.0.1:${port}` };
}
