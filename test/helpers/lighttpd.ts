// Debian's lighttpd in the foreground (`lighttpd -D -f CONF`) on two loopback ports: the first
// passes every request to a FastCGI backend (mod_fastcgi), the second to a uwsgi backend
// (mod_scgi with scgi.protocol "uwsgi"). Request bodies are buffered whole before they go on,
// lighttpd's default.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { configDir, type Foreground, startForeground } from './foreground.js';
import { freePort } from './net.js';

export interface Lighttpd extends Foreground {
  fastcgiUrl: string;
  uwsgiUrl: string;
}

const backend = (address: string): string => {
  const [host, port] = address.split(':');
  return `( ( "host" => "${host}", "port" => ${port}, "check-local" => "disable" ) )`;
};

/** `fastcgi` and `uwsgi` are the backends' `host:port`. */
export async function startLighttpd(fastcgi: string, uwsgi: string): Promise<Lighttpd> {
  const dir = configDir('lighttpd');
  const [fastcgiPort, uwsgiPort] = [await freePort(), await freePort()];
  const conf = path.join(dir, 'lighttpd.conf');
  writeFileSync(
    conf,
    [
      'server.modules = ( "mod_scgi", "mod_fastcgi" )',
      `server.document-root = "${dir}"`,
      `server.upload-dirs = ( "${dir}" )`,
      `server.errorlog = "${dir}/error.log"`,
      'server.bind = "127.0.0.1"',
      `server.port = ${fastcgiPort}`,
      'server.max-request-size = 65536',
      `$SERVER["socket"] == "127.0.0.1:${fastcgiPort}" {`,
      `  fastcgi.server = ( "/" => ${backend(fastcgi)} )`,
      '}',
      `$SERVER["socket"] == "127.0.0.1:${uwsgiPort}" {`,
      '  scgi.protocol = "uwsgi"',
      `  scgi.server = ( "/" => ${backend(uwsgi)} )`,
      '}',
      '',
    ].join('\n'),
  );
  const server = await startForeground(
    dir,
    '/usr/sbin/lighttpd',
    ['-D', '-f', conf],
    [fastcgiPort, uwsgiPort],
    'SIGTERM',
  );
  return {
    ...server,
    fastcgiUrl: `http://127.0.0.1:${fastcgiPort}`,
    uwsgiUrl: `http://127.0.0.1:${uwsgiPort}`,
  };
}
