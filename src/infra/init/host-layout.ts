// Where things live on a host, one place for every template: the release under
// /opt/<name>/current (a symlink the fleet switches), pier's CLI inside it, and the ports of
// the seed (dev: HTTP on :9090; prod: uwsgi on 127.0.0.1:9000 behind nginx on :80).
import type { InitOptions } from './init-options.js';

/** The installed release: the project tree (dist/, node_modules/, deploy/) as built. */
export const releaseRoot = (o: InitOptions): string => `/opt/${o.name}/current`;
/** pier deploy's shared directory beside the releases (shared.dirs live there). */
export const sharedRoot = (o: InitOptions): string => `/opt/${o.name}/shared`;

/**
 * A path inside pier's package, relative to the release root: pier ships inside the release, so
 * the server's version moves with the app's (pier's own tree, or `pier` = node_modules/pier in
 * an app's; see InitOptions.pier).
 */
export const inPier = (pier: string, relative: string): string => (pier ? `${pier}/${relative}` : relative);
/** pier's CLI in the release. */
export const pierCli = (o: InitOptions): string => inPier(o.pier, 'dist/src/cli/main.js');
/** The CGI entry (the same as `pier cgi`, without the CLI in front) in the release. */
export const pierCgi = (o: InitOptions): string => inPier(o.pier, 'dist/src/server/cgi/main.cjs');

/**
 * systemd wants an absolute ExecStart; env finds `node` on the unit's PATH: the release's own
 * Node where `pier setup` wrote the bundled runtime's drop-in, else the host's (/usr/bin/node).
 */
export const nodeBin = '/usr/bin/env node';

export const devHttpSocket = ':9090';
export const prodSocket = '127.0.0.1:9000';
/** prod.ini's limit-post, which the nginx site lets through too (nginx's own default is 1m). */
export const prodLimitPost = '16m';

/** Name of the descriptor the .socket unit passes (FileDescriptorName=). */
export const activatedSocketName = 'uwsgi';
