// Starts a real Debian nginx in the foreground with its own config on loopback ports:
// `nginx -c CONF -p PREFIX -e stderr -g 'daemon off;'`, with pid, error_log and all five temp
// paths inside PREFIX, so it runs beside any system nginx and leaves nothing behind.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './net.js';

export interface Nginx {
  prefix: string;
  /** One loopback port per server block, in the order given. */
  ports: number[];
  errorLog: () => string;
  stop: () => Promise<void>;
}

/** `servers[i]` is the body of one server block (a `location` and its directives). */
export async function startNginx(servers: string[], httpExtra = ''): Promise<Nginx> {
  const prefix = mkdtempSync(path.join(tmpdir(), 'pier-nginx-'));
  // nginx workers run as an unprivileged user: they must reach the temp paths and sockets.
  chmodSync(prefix, 0o755);
  const ports: number[] = [];
  for (const _ of servers) ports.push(await freePort());
  const conf = path.join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    [
      'worker_processes 1;',
      `pid ${prefix}/nginx.pid;`,
      `error_log ${prefix}/error.log warn;`,
      'events { worker_connections 512; }',
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${prefix}/client_body;`,
      `  proxy_temp_path ${prefix}/proxy;`,
      `  fastcgi_temp_path ${prefix}/fastcgi;`,
      `  uwsgi_temp_path ${prefix}/uwsgi;`,
      `  scgi_temp_path ${prefix}/scgi;`,
      '  client_max_body_size 64m;',
      httpExtra,
      ...servers.map((body, i) =>
        [`  server {`, `    listen 127.0.0.1:${ports[i]};`, '    server_name localhost;', body, '  }'].join(
          '\n',
        ),
      ),
      '}',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(
    '/usr/sbin/nginx',
    ['-c', conf, '-p', prefix, '-e', 'stderr', '-g', 'daemon off;'],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await Promise.race([
      Promise.all(ports.map((port) => waitForPort(port))),
      exited.then(() => {
        throw new Error(`nginx exited at start (config ${conf}); see its stderr above`);
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    prefix,
    ports,
    errorLog: () => {
      try {
        return readFileSync(path.join(prefix, 'error.log'), 'utf8');
      } catch {
        return '';
      }
    },
    async stop() {
      if (child.exitCode === null) {
        // SIGTERM is nginx's fast shutdown; the master stops its workers.
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}
