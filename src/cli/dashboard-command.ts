// `pier dashboard`: a read-only web page of what every host runs, per data center, and the deploy
// under way, served on loopback until stopped (Ctrl-C, SIGTERM, SIGHUP end it with exit 0).
import { type Command, Option } from 'commander';
import { counted } from '../common/counted.js';
import { DeployFiles } from '../fleet/dashboard/deploy-files.js';
import { DashboardServer } from '../fleet/dashboard/server.js';
import { StatusFeed } from '../fleet/dashboard/status-feed.js';
import { describeError, FleetError } from '../fleet/errors.js';
import { fleetStatus } from '../fleet/status.js';
import { type FleetFlags, openSession, selection, withFleetFlags } from './fleet-options.js';
import { parseDuration, parseListen } from './parse-values.js';

interface DashboardFlags extends FleetFlags {
  listen: { host: string; port: number };
  refresh: number;
}

const loopbackHosts = new Set(['127.0.0.1', '::1', 'localhost']);

export function registerDashboard(program: Command): void {
  withFleetFlags(
    program
      .command('dashboard')
      .description(
        'a web page of what every host runs, per data center, and the deploy under way (read-only)',
      )
      .addOption(
        new Option(
          '--listen <host:port>',
          'where to serve it; anything but loopback serves it to the network',
        )
          .argParser(parseListen)
          .default({ host: '127.0.0.1', port: 8470 }, '127.0.0.1:8470'),
      )
      .addOption(
        new Option('--refresh <duration>', 'how often status is gathered from the hosts over SSH')
          .argParser(parseDuration)
          .default(30_000, '30s'),
      ),
  ).action(async (flags: DashboardFlags) => {
    const session = await openSession(flags, { repoRequired: false });
    const chosen = selection(session.fleet, flags);
    const hosts = chosen.flatMap((dc) => dc.hosts);
    session.pool.expect(hosts);
    const dcOf = new Map(hosts.map((h) => [h.name, h.dc]));
    const feed = new StatusFeed(
      async () => {
        try {
          return await fleetStatus(session.pool, chosen, session.fleet.service);
        } finally {
          // Between gatherings the dashboard holds no SSH connection open.
          await session.pool.closeAll();
        }
      },
      flags.refresh,
      5000,
      (err) => process.stderr.write(`dashboard: gathering status failed: ${describeError(err)}\n`),
    );
    const server = new DashboardServer({
      app: session.fleet.app,
      selection: chosen,
      feed,
      deploys: new DeployFiles(session.store.deploysDir(), (name) => dcOf.get(name)),
    });
    const { host, port } = flags.listen;
    const bound = await server.listen(host, port).catch((err: NodeJS.ErrnoException) => {
      throw new FleetError(
        'FLEET_DASHBOARD_LISTEN',
        `cannot listen on ${host}:${port}: ${err.code ?? err.message}`,
        {
          hint:
            err.code === 'EADDRINUSE' ? 'another program uses that port: pass --listen HOST:PORT' : undefined,
          exitCode: 2,
        },
      );
    });
    feed.start();
    const shown = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
    process.stdout.write(
      `dashboard: http://${shown}:${bound.port}/ (${counted(hosts.length, 'host')}, status every ${flags.refresh / 1000} s; Ctrl-C stops it)\n`,
    );
    if (!loopbackHosts.has(host)) {
      process.stderr.write(
        `warning: serving host names, versions and failure messages without authentication to every client that reaches ${shown}:${bound.port}\n`,
      );
    }
    await new Promise<void>((resolve) => {
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => resolve());
    });
    await server.close();
    await feed.stop();
    await session.pool.closeAll();
  });
}
