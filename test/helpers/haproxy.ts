// Debian's HAProxy in the foreground (`haproxy -db -f CONF`) on a loopback port, passing every
// request to a FastCGI backend through an fcgi-app.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { configDir, type Foreground, startForeground } from './foreground.js';
import { freePort } from './net.js';

export interface Haproxy extends Foreground {
  url: string;
}

/** `fastcgi` is the backend's `host:port`. */
export async function startHaproxy(fastcgi: string): Promise<Haproxy> {
  const dir = configDir('haproxy');
  const port = await freePort();
  const conf = path.join(dir, 'haproxy.cfg');
  writeFileSync(
    conf,
    [
      'global',
      '  log stderr format raw local0 warning',
      'defaults',
      '  mode http',
      '  log global',
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 30s',
      'fcgi-app pier',
      `  docroot ${dir}`,
      'frontend front',
      `  bind 127.0.0.1:${port}`,
      '  default_backend pier',
      'backend pier',
      '  use-fcgi-app pier',
      `  server pier ${fastcgi} proto fcgi`,
      '',
    ].join('\n'),
  );
  const server = await startForeground(dir, '/usr/sbin/haproxy', ['-db', '-f', conf], [port], 'SIGTERM');
  return { ...server, url: `http://127.0.0.1:${port}` };
}
