// `pier unlock`: remove a fleet lock left by a deploy that will not come back.
import type { Command } from 'commander';
import { breakLocks, describeHolder } from '../fleet/lock.js';
import { type FleetFlags, openSession, selection, withFleetFlags } from './fleet-options.js';
import { interruptExitCode, withInterrupts } from './interrupts.js';

export function registerUnlock(program: Command): void {
  withFleetFlags(
    program.command('unlock').description('remove the deploy lock from the hosts (say who held it)'),
  ).action(async (flags: FleetFlags) => {
    await withInterrupts(
      async (signal) => {
        const session = await openSession(flags, { repoRequired: false });
        try {
          const hosts = selection(session.fleet, flags).flatMap((dc) => dc.hosts);
          session.pool.expect(hosts);
          const broken = await breakLocks(session.pool, hosts, signal);
          for (const entry of broken) {
            process.stdout.write(
              entry.error
                ? `${entry.host.name}: ${entry.error}\n`
                : `${entry.host.name}: removed the lock of ${describeHolder(entry.holder)}\n`,
            );
          }
          if (broken.length === 0) process.stdout.write('no locks\n');
          if (signal.aborted) process.exitCode = interruptExitCode(signal);
          else if (broken.some((entry) => entry.error)) process.exitCode = 1;
        } finally {
          await session.pool.closeAll();
        }
      },
      { finishing: 'finishing the hosts in flight' },
    );
  });
}
