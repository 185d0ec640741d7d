// Starts a real Debian Apache in the foreground with its own config on a loopback port, with
// mod_cgid, and AllowOverride so each document root's .htaccess decides what runs as CGI.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './net.js';

const modules = '/usr/lib/apache2/modules';
const loaded = ['mpm_event', 'authz_core', 'mime', 'cgid', 'dir', 'alias', 'env'];

export interface Apache {
  port: number;
  url: string;
  log: () => string;
  stop: () => Promise<void>;
}

export async function startApache(documentRoot: string): Promise<Apache> {
  const prefix = mkdtempSync(path.join(tmpdir(), 'pier-apache-'));
  chmodSync(prefix, 0o755);
  mkdirSync(path.join(prefix, 'logs'));
  const port = await freePort();
  const conf = path.join(prefix, 'httpd.conf');
  writeFileSync(
    conf,
    [
      `ServerRoot ${prefix}`,
      `Listen 127.0.0.1:${port}`,
      'ServerName localhost',
      ...loaded.map((name) => `LoadModule ${name}_module ${modules}/mod_${name}.so`),
      'User www-data',
      'Group www-data',
      `PidFile ${prefix}/httpd.pid`,
      `ScriptSock ${prefix}/cgid.sock`,
      `ErrorLog ${prefix}/logs/error.log`,
      'LogLevel warn',
      'TypesConfig /etc/mime.types',
      `DocumentRoot ${documentRoot}`,
      `<Directory ${documentRoot}>`,
      '    Options FollowSymLinks',
      '    AllowOverride All',
      '    Require all granted',
      '</Directory>',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('/usr/sbin/apache2', ['-f', conf, '-DFOREGROUND'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await Promise.race([
      waitForPort(port),
      exited.then(() => {
        throw new Error(`apache2 exited at start; see ${prefix}/logs/error.log`);
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    log: () => readFileSync(path.join(prefix, 'logs/error.log'), 'utf8'),
    async stop() {
      if (child.exitCode === null) {
        // SIGTERM to the parent stops its children (workers and the cgid daemon) too.
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}
