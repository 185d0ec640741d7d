// `pier trust [HOSTS...]`: add host keys to known_hosts on purpose, printing fingerprints.
import type { Command } from 'commander';
import { FleetError } from '../fleet/errors.js';
import { trustHosts } from '../fleet/trust.js';
import { type FleetFlags, openSession, selection, withFleetFlags } from './fleet-options.js';

export function registerTrust(program: Command): void {
  withFleetFlags(
    program
      .command('trust')
      .description(
        'record the host keys of HOSTS (names, ranges, globs; default: the selection) in known_hosts',
      )
      .argument('[hosts...]', 'hosts of the inventory')
      .option('--replace', 'replace a key that changed (after checking the new fingerprint)')
      .option('--hash', 'write hashed entries (|1|salt|hash), like ssh-keygen -H'),
  ).action(async (hosts: string[], flags: FleetFlags & { replace?: boolean; hash?: boolean }) => {
    const session = await openSession(
      { ...flags, hosts: [...(flags.hosts ?? []), ...hosts] },
      { repoRequired: false },
    );
    try {
      const chosen = selection(session.fleet, {
        ...flags,
        hosts: [...(flags.hosts ?? []), ...hosts],
      }).flatMap((dc) => dc.hosts);
      const results = await trustHosts(session.pool, chosen, session.knownHostsFile, {
        replace: flags.replace === true,
        hash: flags.hash === true,
      });
      for (const r of results) {
        process.stdout.write(
          `${r.host}: ${r.action}${r.fingerprint ? ` ${r.fingerprint}` : ''}${r.detail ? ` (${r.detail})` : ''}\n`,
        );
      }
      const refused = results.filter((r) => r.action === 'changed-refused' || r.action === 'failed');
      if (refused.length > 0) {
        throw new FleetError('FLEET_TRUST', `${refused.length} host(s) not trusted`, {
          hint: 'see the lines above',
        });
      }
    } finally {
      await session.pool.closeAll();
    }
  });
}
