// Where things live on a host, one place for every template: the release under
// /opt/<name>/current (a symlink the fleet switches), pier's CLI inside it, and the ports of
// the seed (dev: HTTP on :9090; prod: uwsgi on 127.0.0.1:9000 behind nginx on :80).
import type { InitOptions } from './init-options.js';

/** The installed release: the project tree (dist/, node_modules/, deploy/) as built. */
export const releaseRoot = (o: InitOptions): string => `/opt/${o.name}/current`;

/**
 * pier ships inside the release, so the server's version moves with the app's: its CLI relative
 * to the release root (pier's own tree, or node_modules/pier in an app's; see InitOptions.pier).
 */
export const pierCli = (o: InitOptions): string => `${o.pier ? `${o.pier}/` : ''}dist/src/cli/main.js`;
/** The CGI entry (the same as `pier cgi`, without the CLI in front), relative to the release root. */
export const pierCgi = (o: InitOptions): string =>
  `${o.pier ? `${o.pier}/` : ''}dist/src/server/cgi/main.cjs`;

/**
 * systemd wants an absolute ExecStart; env finds `node` on the unit's PATH: the release's own
 * Node where `pier setup` wrote the bundled runtime's drop-in, else the host's (/usr/bin/node).
 */
export const nodeBin = '/usr/bin/env node';

export const devHttpSocket = ':9090';
export const prodSocket = '127.0.0.1:9000';

/** Name of the descriptor the .socket unit passes (FileDescriptorName=). */
export const activatedSocketName = 'uwsgi';
