// `pier status`: the version per host, a per-DC summary and drift.
import type { Command } from 'commander';
import { findResumable } from '../fleet/deploy.js';
import { deployToUndo } from '../fleet/rollout/undo.js';
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
      // A deploy this controller left unfinished (killed, interrupted) and nothing superseded.
      const unfinished = await findResumable(session.store.deploysDir(), undefined, session.fleetFile).catch(
        () => undefined,
      );
      if (flags.json) {
        const resumable = unfinished && { id: unfinished.id, version: unfinished.replay.start.version };
        process.stdout.write(`${JSON.stringify({ ...status, unfinished: resumable }, null, 2)}\n`);
      } else {
        const detail = flags.summary !== true && status.hosts.length <= 50;
        process.stdout.write(renderStatus(status, detail));
        if (unfinished) {
          // One that switched no host has nothing to undo: a rollback would undo the deploy before it.
          const ways =
            deployToUndo(unfinished.replay).switched.size > 0
              ? '`pier deploy --resume` continues it, `pier rollback` undoes it'
              : 'it switched no host; `pier deploy --resume` continues it';
          process.stdout.write(
            `unfinished: deploy ${unfinished.id} (${unfinished.replay.start.version}) did not end; ${ways}\n`,
          );
        }
      }
      // A host that could not be asked is not known to run anything: not a clean answer.
      if (status.hosts.some((host) => host.error !== undefined)) process.exitCode = 1;
    } finally {
      await session.pool.closeAll();
    }
  });
}
