// `pier rollback [--to VERSION]`: back to each host's previous good release, or to VERSION.
import type { Command } from 'commander';
import type { Datacenter } from '../fleet/inventory/inventory.js';
import { checkVersion } from '../fleet/release/version.js';
import { rollback } from '../fleet/rollback.js';
import type { FleetSession } from '../fleet/session.js';
import { type FleetFlags, openSession, selection, withFleetFlags } from './fleet-options.js';
import { withInterrupts } from './interrupts.js';
import { runExitCode } from './run-exit-code.js';

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
    await withInterrupts(async (signal) => {
      const session = await openSession(flags, { repoRequired: false });
      try {
        const outcome = await rollback(session, {
          to: flags.to,
          selection: expected(session, selection(session.fleet, flags)),
          signal,
        });
        // Nothing to roll back (the deploy it would undo left no host on its release): exit 0.
        if (outcome) process.exitCode = runExitCode(outcome, signal, true);
      } finally {
        await session.pool.closeAll();
      }
    });
  });
}

/** The selection, announced to the pool (known_hosts is indexed for exactly these hosts). */
function expected(session: FleetSession, chosen: Datacenter[]): Datacenter[] {
  session.pool.expect(chosen.flatMap((dc) => dc.hosts));
  return chosen;
}
