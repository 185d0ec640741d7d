// `pier unlock`: remove a fleet lock left by a deploy that will not come back.
import type { Command } from 'commander';
import { breakFleetLock, breakLocks, describeHolder, lockHostOf } from '../fleet/lock.js';
import { type FleetFlags, openSession, selection, withFleetFlags } from './fleet-options.js';
import { interruptExitCode, withInterrupts } from './interrupts.js';

export function registerUnlock(program: Command): void {
  withFleetFlags(
    program
      .command('unlock')
      .description(
        'remove the locks on the selected hosts, whoever holds them (a running deploy too), saying whose they were; the fleet lock goes too when the selection includes its host (the first host in rollout order); exit 1 when one could not be removed',
      ),
  ).action(async (flags: FleetFlags) => {
    await withInterrupts(
      async (signal) => {
        const session = await openSession(flags, { repoRequired: false });
        try {
          const hosts = selection(session.fleet, flags).flatMap((dc) => dc.hosts);
          session.pool.expect(hosts);
          const broken = await breakLocks(session.pool, hosts, signal);
          // The fleet lock (lock.ts) lives on the lock host: unlocking that host removes it too.
          const lockHost = lockHostOf(session.fleet);
          const fleetLock =
            hosts.some((host) => host.name === lockHost.name) && !signal.aborted
              ? await breakFleetLock(session.pool, session.fleet)
              : undefined;
          if (fleetLock) {
            process.stdout.write(
              fleetLock.error
                ? `fleet lock on ${lockHost.name}: ${fleetLock.error}\n`
                : `fleet lock on ${lockHost.name}: removed the lock of ${describeHolder(fleetLock.holder)}\n`,
            );
            broken.push(fleetLock);
          }
          for (const entry of broken.filter((entry) => entry !== fleetLock)) {
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
