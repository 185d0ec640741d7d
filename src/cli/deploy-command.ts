// `pier deploy VERSION`: roll a release out to the fleet (see src/fleet/deploy.ts);
// `--resume` continues an interrupted deploy, `--dry-run` prints the plan and the commands.
import type { Command } from 'commander';
import { deploy, findResumable } from '../fleet/deploy.js';
import { FleetError } from '../fleet/errors.js';
import type { Amount } from '../fleet/inventory/schema.js';
import { tagExists } from '../fleet/release/git.js';
import { checkVersion } from '../fleet/release/version.js';
import { planText } from '../fleet/report/plan-text.js';
import { planRollout } from '../fleet/rollout/plan.js';
import {
  type FleetFlags,
  findRepo,
  loadFleetFor,
  openSession,
  parseAmount,
  selection,
  withFleetFlags,
} from './fleet-options.js';
import { withInterrupts } from './interrupts.js';
import { runExitCode } from './run-exit-code.js';

interface DeployFlags extends FleetFlags {
  resume?: string | boolean;
  dryRun?: boolean;
  canary?: Amount;
  window?: Amount;
  failureBudget?: Amount;
}

export function registerDeploy(program: Command): void {
  withFleetFlags(
    program
      .command('deploy')
      .description('roll VERSION out to the fleet: stage, then activate canary-first in a sliding window')
      .argument('[version]', 'a release made with `pier release` (its tag)')
      .option(
        '--resume [id]',
        'continue an interrupted deploy: the newest run (or ID), unless a later run superseded it',
      )
      .option('--dry-run', 'print the plan (waves and commands) and change nothing')
      .option('--canary <n>', 'canary hosts per data center (count or %)', parseAmount)
      .option('--window <n>', 'hosts in flight per data center (count or %)', parseAmount)
      .option('--failure-budget <n>', 'failed hosts tolerated fleet-wide (count or %)', parseAmount),
  ).action(async (versionArg: string | undefined, flags: DeployFlags) => {
    // Checked before anything else runs: the version ends up in paths and commands.
    if (versionArg !== undefined) checkVersion(versionArg);
    if (versionArg === undefined && flags.resume === undefined) {
      throw new FleetError('FLEET_USAGE', 'which version? `pier deploy VERSION`, or `pier deploy --resume`', {
        exitCode: 2,
      });
    }
    if (flags.dryRun) {
      const repo = await findRepo(flags, false);
      const { fleet } = await loadFleetFor(flags, repo, { secrets: true });
      applyOverrides(fleet, flags);
      const { ReleaseStore } = await import('../fleet/release/store.js');
      const version = versionArg as string;
      const manifest = await new ReleaseStore(repo).readManifest(version);
      // A plan for a version that does not exist would print placeholders and say nothing.
      if (!manifest && !(await tagExists(repo, version).catch(() => false))) {
        throw new FleetError('FLEET_NO_RELEASE', `there is no release ${version} (no tag, no artifact)`, {
          hint: `create it with: pier release ${version}`,
          exitCode: 2,
        });
      }
      process.stdout.write(
        planText(
          fleet,
          planRollout(selection(fleet, flags), fleet),
          version,
          manifest?.sha256 ?? 'SHA256-OF-THE-ARTIFACT',
        ),
      );
      return;
    }
    // Ctrl-C, SIGTERM, SIGHUP: hosts in flight finish (no host is left half-switched), locks are
    // released and the journal stays open for --resume. A second signal stops at once.
    await withInterrupts(
      async (signal) => {
        const session = await openSession(flags, { repoRequired: true, secrets: true });
        try {
          applyOverrides(session.fleet, flags);
          let resume: Awaited<ReturnType<typeof findResumable>> | undefined;
          let chosen = selection(session.fleet, flags);
          if (flags.resume !== undefined) {
            resume = await findResumable(
              session.store.deploysDir(),
              typeof flags.resume === 'string' ? flags.resume : undefined,
              session.fleetFile,
            );
            const names = new Set(resume.replay.start.hosts);
            chosen = session.fleet.datacenters
              .map((dc) => ({ ...dc, hosts: dc.hosts.filter((host) => names.has(host.name)) }))
              .filter((dc) => dc.hosts.length > 0);
            if (versionArg !== undefined && versionArg !== resume.replay.start.version) {
              throw new FleetError(
                'FLEET_USAGE',
                `deploy ${resume.id} was deploying ${resume.replay.start.version}, not ${versionArg}`,
                { exitCode: 2 },
              );
            }
          }
          const version = resume?.replay.start.version ?? (versionArg as string);
          session.pool.expect(chosen.flatMap((dc) => dc.hosts));
          const outcome = await deploy(session, { version, selection: chosen, resume, signal });
          process.exitCode = runExitCode(outcome, signal, false);
        } finally {
          await session.pool.closeAll();
        }
      },
      {
        leftBehind:
          '`pier deploy --resume` continues this deploy where it stopped (it takes over its own locks); otherwise they stay until they expire or `pier unlock`',
      },
    );
  });
}

/** The command line's --canary, --window and --failure-budget, for the fleet and each data center. */
function applyOverrides(
  fleet: {
    rollout: { failure_budget: Amount };
    datacenters: Array<{ canary: Amount; window: Amount; failureBudget: Amount }>;
  },
  flags: DeployFlags,
): void {
  if (flags.failureBudget) fleet.rollout.failure_budget = flags.failureBudget;
  for (const dc of fleet.datacenters) {
    if (flags.canary) dc.canary = flags.canary;
    if (flags.window) dc.window = flags.window;
    if (flags.failureBudget) dc.failureBudget = flags.failureBudget;
  }
}
