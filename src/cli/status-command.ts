// `pier status`: the version per host, a per-DC summary and drift.
import type { Command } from 'commander';
import { fleetStatus, renderStatus } from '../fleet/status.js';
import { type FleetFlags, openSession, selection, withFleetFlags } from './fleet-options.js';

export function registerStatus(program: Command): void {
  withFleetFlags(
    program
      .command('status')
      .description(
        'what every host runs, per data center, and which hosts drifted (exit 1 when a host is unreachable)',
      )
      .option('--json', 'machine-readable output')
      .option('--summary', 'only the per-DC summary (default when there are more than 50 hosts)'),
  ).action(async (flags: FleetFlags & { json?: boolean; summary?: boolean }) => {
    const session = await openSession(flags, { repoRequired: false });
    try {
      const chosen = selection(session.fleet, flags);
      session.pool.expect(chosen.flatMap((dc) => dc.hosts));
      const status = await fleetStatus(session.pool, chosen, session.fleet.service);
      if (flags.json) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      else {
        const detail = flags.summary !== true && status.hosts.length <= 50;
        process.stdout.write(renderStatus(status, detail));
      }
      // A host that could not be asked is not known to run anything: not a clean answer.
      if (status.hosts.some((host) => host.error !== undefined)) process.exitCode = 1;
    } finally {
      await session.pool.closeAll();
    }
  });
}
