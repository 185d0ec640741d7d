// `pier setup`: make bare hosts ready for `pier deploy` (see src/fleet/setup.ts); `--check`
// reports what each host lacks and changes nothing; `--print-sudoers` prints the drop-in that
// lets a non-root deploy user run exactly the deploy's privileged commands.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { counted } from '../common/counted.js';
import { sudoersDropIn } from '../fleet/commands/sudoers.js';
import { type FleetSession, newDeployId } from '../fleet/session.js';
import { readSetupFiles, type SetupHostResult, setupFleet, setupSummary } from '../fleet/setup.js';
import {
  type FleetFlags,
  findRepo,
  loadFleetFor,
  openSession,
  selection,
  withFleetFlags,
} from './fleet-options.js';
import { interruptExitCode, withInterrupts } from './interrupts.js';

interface SetupFlags extends FleetFlags {
  check?: boolean;
  printSudoers?: boolean;
  concurrency?: number;
  json?: boolean;
}

const positive = (raw: string): number => {
  if (!/^[1-9]\d*$/.test(raw)) throw new InvalidArgumentError(`expected a positive integer, got "${raw}"`);
  return Number(raw);
};

export function registerSetup(program: Command): void {
  withFleetFlags(
    program
      .command('setup')
      .description(
        'prepare hosts for deploys: deploy_to, service user, units, nginx site, sudoers (idempotent)',
      )
      .option('--check', 'report what each host lacks; change nothing')
      .option('--print-sudoers', 'print the sudoers drop-in for a non-root deploy user, and exit')
      .option('--concurrency <n>', 'hosts set up at once (default: ssh.handshake_concurrency)', positive)
      .option('--json', 'print the JSON report instead of the summary'),
  ).action(async (flags: SetupFlags) => {
    if (flags.printSudoers) {
      const repo = await findRepo(flags, false);
      const { fleet } = await loadFleetFor(flags, repo);
      const texts = new Set(
        selection(fleet, flags)
          .flatMap((dc) => dc.hosts)
          .map((host) =>
            sudoersDropIn(fleet.app, { user: host.user, deployTo: host.deployTo, service: fleet.service }),
          ),
      );
      for (const text of texts) {
        process.stdout.write(
          text ?? `# service manager ${fleet.service.manager}: a deploy runs nothing as root\n`,
        );
      }
      return;
    }
    // Ctrl-C, SIGTERM, SIGHUP: hosts in flight finish their one round trip, no new one starts.
    await withInterrupts(
      async (signal) => {
        const session = await openSession(flags, { repoRequired: false });
        try {
          await runSetup(session, flags, signal);
        } finally {
          await session.pool.closeAll();
        }
      },
      { finishing: 'finishing the hosts in flight' },
    );
  });
}

async function runSetup(session: FleetSession, flags: SetupFlags, signal: AbortSignal): Promise<void> {
  const files = await readSetupFiles(session.repo, session.fleet);
  const chosen = selection(session.fleet, flags);
  session.pool.expect(chosen.flatMap((dc) => dc.hosts));
  const total = chosen.reduce((sum, dc) => sum + dc.hosts.length, 0);
  const startedAt = new Date();
  let done = 0;
  let lastPrint = 0;
  const verb = flags.check ? 'checking' : 'setting up';
  session.out.write(`${verb} ${counted(total, 'host')} in ${counted(chosen.length, 'data center')}\n`);
  const result = await setupFleet(session, {
    selection: chosen,
    check: flags.check === true,
    concurrency: flags.concurrency ?? session.fleet.ssh.handshake_concurrency,
    files,
    signal,
    onHost: (host: SetupHostResult) => {
      done++;
      const now = Date.now();
      if (now - lastPrint >= 1000 || done === total) {
        lastPrint = now;
        session.out.write(`  ${done}/${total} hosts (last: ${host.host.name} ${host.state})\n`);
      }
    },
  });
  const id = newDeployId(flags.check ? 'setup-check' : 'setup', startedAt);
  const report = {
    id,
    action: flags.check ? 'setup-check' : 'setup',
    owner: session.owner,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    interrupted: result.interrupted,
    hosts: result.hosts.map((h) => ({
      name: h.host.name,
      dc: h.host.dc,
      state: h.state,
      changed: h.changed,
      lacking: h.lacking,
      error: h.error,
      code: h.code,
    })),
  };
  const dir = await session.store.makeDir('deploys');
  const reportFile = path.join(dir, `${id}.json`);
  await writeFile(reportFile, `${JSON.stringify(report, null, 2)}\n`);
  if (flags.json) session.out.write(`${JSON.stringify(report, null, 2)}\n`);
  else session.out.write(`\n${setupSummary(result)}report: ${reportFile}\n`);
  const failed = result.hosts.some((h) => h.state === 'failed' || h.state === 'lacking');
  process.exitCode = result.interrupted ? interruptExitCode(signal) : failed ? 1 : 0;
}
