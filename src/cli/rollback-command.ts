// `pier rollback [--to VERSION]`: back to each host's previous good release, or to VERSION.
import type { Command } from 'commander';
import { checkVersion } from '../fleet/release/version.js';
import { rollback } from '../fleet/rollback.js';
import { type FleetFlags, openSession, selection, withFleetFlags } from './fleet-options.js';

export function registerRollback(program: Command): void {
  withFleetFlags(
    program
      .command('rollback')
      .description(
        'switch hosts back to their previous good release (or --to VERSION) and pass the health gate',
      )
      .option('--to <version>', 'a release still on the hosts'),
  ).action(async (flags: FleetFlags & { to?: string }) => {
    if (flags.to !== undefined) checkVersion(flags.to);
    const session = await openSession(flags, { repoRequired: false });
    try {
      const chosen = selection(session.fleet, flags);
      session.pool.expect(chosen.flatMap((dc) => dc.hosts));
      const { result } = await rollback(session, { to: flags.to, selection: chosen });
      process.exitCode =
        result.outcome === 'done' && result.hosts.every((h) => h.state === 'healthy') ? 0 : 1;
    } finally {
      await session.pool.closeAll();
    }
  });
}
