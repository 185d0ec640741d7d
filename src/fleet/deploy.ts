// `pier deploy`: the composition of the fleet part. Find the artifact, lock the targeted hosts,
// run the rollout with a journal and live progress, unlock (saying where a lock remains), write
// the JSON report. `--resume` replays the journal of a deploy whose controller died and carries
// on from there.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { counted } from '../common/counted.js';
import { describeError, FleetError } from './errors.js';
import type { Datacenter, Host } from './inventory/inventory.js';
import { runLocalHooks } from './local-hooks.js';
import {
  DeployLocks,
  keepLocked,
  type LockInfo,
  type LockLeft,
  releaseFleetLock,
  takeFleetLock,
  unlockFleet,
} from './lock.js';
import { artifactFor } from './release/release.js';
import type { ReleaseManifest } from './release/store.js';
import { checkVersion } from './release/version.js';
import { buildReport, type DeployReport, writeReport } from './report/deploy-report.js';
import { inPhase } from './report/phase-progress.js';
import { Progress } from './report/progress.js';
import { groupedFailures, locksLeftNote, outcomeLine, summaryTable } from './report/summary.js';
import { Journal, type Replay, replayJournal } from './rollout/journal.js';
import { planRollout } from './rollout/plan.js';
import { chooseResumable } from './rollout/resumable.js';
import { type RolloutResult, runRollout } from './rollout/runner.js';
import { type FleetSession, newDeployId } from './session.js';

export interface DeployRequest {
  version: string;
  selection: Datacenter[];
  /** Set by --resume: the interrupted deploy's id and journal. */
  resume?: { id: string; replay: Replay } | undefined;
  /**
   * Aborted by the operator (Ctrl-C, SIGTERM, SIGHUP): hosts in flight finish, nothing new
   * starts. Aborted before any host is locked, the deploy throws the signal's reason instead.
   */
  signal?: AbortSignal | undefined;
}

export interface DeployOutcome {
  report: DeployReport;
  reportFile: string;
  result: RolloutResult;
  /** Hosts where this run's lock may remain; the outcome line and the report name them. */
  locksLeft: LockLeft[];
}

export async function deploy(session: FleetSession, request: DeployRequest): Promise<DeployOutcome> {
  const version = checkVersion(request.version);
  const { fleet, pool, store, out } = session;
  const manifest: ReleaseManifest = await artifactFor(session.repo, version, store, fleet.runtime, (line) =>
    out.write(`${line}\n`),
  );
  if (request.resume && request.resume.replay.start.sha256 !== manifest.sha256) {
    throw new FleetError(
      'FLEET_RESUME_MISMATCH',
      `the artifact of ${version} changed since deploy ${request.resume.id} started`,
    );
  }
  const id = request.resume?.id ?? newDeployId(version);
  const hosts = request.selection.flatMap((dc) => dc.hosts);
  const plan = planRollout(request.selection, fleet);
  // Interrupted while the artifact was built: nothing was locked or changed, nothing to resume.
  request.signal?.throwIfAborted();
  // Local hooks (local-hooks.ts): pre_deploy before any host is contacted; a failure stops here.
  const hookContext = { id, version, owner: session.owner, hostCount: hosts.length };
  const hookOptions = { cwd: session.repo, timeoutMs: fleet.hooks.timeoutMs, out };
  await runLocalHooks('pre_deploy', fleet.hooks.pre_deploy, hookContext, hookOptions);
  await store.makeDir('deploys');
  const journal = new Journal(path.join(store.deploysDir(), `${id}.jsonl`));
  const startedAt = new Date();
  if (!request.resume) {
    journal.write({
      type: 'start',
      id,
      action: 'deploy',
      version,
      sha256: manifest.sha256,
      hosts: hosts.map((host) => host.name),
      owner: session.owner,
      at: startedAt.toISOString(),
      fleet: session.fleetFile,
    });
  }
  const lock: LockInfo = {
    owner: session.owner,
    deploy: id,
    since: startedAt.toISOString(),
    expires: new Date(startedAt.getTime() + fleet.lockTtlMs).toISOString(),
  };
  out.write(
    `${request.resume ? 'resuming' : 'deploying'} ${version} (${manifest.sha256.slice(0, 12)}) to ${counted(hosts.length, 'host')} in ${counted(plan.datacenters.length, 'data center')}, deploy ${id}\n`,
  );
  // The fleet lock (lock.ts): one run of this fleet at a time. Each host's own lock is taken in
  // its first round trip, when staging reaches it.
  let lockHost: Host;
  try {
    lockHost = await takeFleetLock(pool, fleet, lock);
  } catch (err) {
    // A new deploy that never started ends here; a resumed one stays resumable once the lock
    // is free (its journal is the interrupted deploy's own).
    if (!request.resume) journal.write({ type: 'end', outcome: 'refused', at: new Date().toISOString() });
    journal.close();
    // pre_deploy ran, so post_deploy does too (an announcement gets its follow-up), told that
    // nothing was deployed; there is no report.
    await runLocalHooks(
      'post_deploy',
      fleet.hooks.post_deploy,
      { ...hookContext, outcome: 'refused' },
      hookOptions,
    ).catch((hookErr: unknown) => out.write(`warning: ${describeError(hookErr)}\n`));
    throw err;
  }
  // A resumed deploy does not contact the hosts its journal shows healthy, but one may still
  // hold this deploy's lock (killed before its last round trip): the end releases it too.
  const doneBefore = hosts.filter((host) => request.resume?.replay.hosts.get(host.name)?.state === 'healthy');
  const { locks, progress, release } = holdDuring(session, request.selection, lock, doneBefore, lockHost);
  let result: RolloutResult;
  try {
    result = await runRollout({
      fleet,
      plan,
      pool,
      journal,
      deployId: id,
      owner: session.owner,
      action: 'deploy',
      versionFor: () => version,
      artifact: {
        path: store.artifactPath(manifest.sha256),
        sha256: manifest.sha256,
        runtime: manifest.runtime,
        version,
      },
      resumed: request.resume?.replay.hosts,
      onceDone: request.resume?.replay.once !== undefined,
      haltReason: request.resume?.replay.halt,
      onState: (host, state, error) => progress.update(host, state, error),
      locks,
      signal: request.signal,
    });
  } catch (err) {
    noteLocksLeft(session, await release());
    throw err;
  }
  const finished = await finishRun(
    session,
    journal,
    result,
    {
      id,
      action: 'deploy',
      version,
      sha256: manifest.sha256,
      owner: session.owner,
      startedAt: startedAt.toISOString(),
    },
    await release(),
  );
  // post_deploy (local-hooks.ts): the deploy is over whatever it says; a failure is only reported.
  await runLocalHooks(
    'post_deploy',
    fleet.hooks.post_deploy,
    { ...hookContext, outcome: result.outcome, report: finished.reportFile },
    hookOptions,
  ).catch((err: unknown) => out.write(`warning: ${describeError(err)}\n`));
  return finished;
}

/** A run that failed with an error still says where its lock remains (the error follows). */
export function noteLocksLeft(session: FleetSession, left: readonly LockLeft[]): void {
  if (left.length > 0) session.out.write(`\n${locksLeftNote(left.map((entry) => entry.host.name))}\n`);
}

/**
 * What a deploy or rollback holds while its rollout runs: the fleet lock on `lockHost`, the
 * hosts' locks (`locked`, and those taken as the rollout goes; all renewed every third of
 * `lock_ttl`) and its live progress. `release` stops both and frees the hosts' locks still held
 * (hosts that finished freed theirs in their last round trip), then the fleet lock, returning
 * where one remains.
 */
export function holdDuring(
  session: FleetSession,
  selection: Datacenter[],
  lock: LockInfo,
  locked: readonly Host[],
  lockHost: Host,
): { locks: DeployLocks; progress: Progress; release: () => Promise<LockLeft[]> } {
  const { pool, out, tty } = session;
  const locks = new DeployLocks(lock, locked);
  const stopRenewing = keepLocked(
    pool,
    () => locks.held(),
    lock,
    session.fleet.lockTtlMs,
    undefined,
    lockHost,
  );
  const progress = new Progress(out, tty, selection).start();
  const release = async (): Promise<LockLeft[]> => {
    progress.finish();
    stopRenewing();
    const held = locks.held();
    const left =
      held.length === 0
        ? []
        : await inPhase(out, tty, 'unlock', held.length, (tick) =>
            unlockFleet(pool, held, lock.deploy, tick),
          );
    const fleetLeft = await releaseFleetLock(pool, lockHost, lock.deploy);
    return fleetLeft ? [...left, fleetLeft] : left;
  };
  return { locks, progress, release };
}

/** The end of a deploy or rollback: close its journal, write its report, print its summary. */
export async function finishRun(
  session: FleetSession,
  journal: Journal,
  result: RolloutResult,
  base: Parameters<typeof buildReport>[0],
  locksLeft: LockLeft[],
): Promise<DeployOutcome> {
  // An interrupted run has no end in its journal: `pier deploy --resume` continues it.
  if (result.outcome !== 'interrupted') {
    journal.write({ type: 'end', outcome: result.outcome, at: new Date().toISOString() });
  }
  journal.close();
  const report = buildReport(base, result, new Date(), locksLeft);
  const reportFile = await writeReport(session.store.deploysDir(), report);
  printSummary(session, result, base.version, base.action, reportFile, locksLeft);
  return { report, reportFile, result, locksLeft };
}

export function printSummary(
  session: FleetSession,
  result: RolloutResult,
  version: string,
  action: string,
  reportFile: string,
  locksLeft: readonly LockLeft[] = [],
): void {
  const { out } = session;
  out.write(`\n${summaryTable(result.hosts)}\n`);
  const failures = groupedFailures(result.hosts);
  if (failures.length > 0) out.write(`\nfailures:\n${failures.map((line) => `  ${line}`).join('\n')}\n`);
  if (locksLeft.length > 0) {
    const lines = locksLeft.map((entry) => `  ${entry.host.name}: ${entry.error}`);
    out.write(`\nlocks not released:\n${lines.join('\n')}\n`);
  }
  const names = locksLeft.map((entry) => entry.host.name);
  out.write(`\n${outcomeLine(result, version, action, names)}\nreport: ${reportFile}\n`);
}

/**
 * The journal `--resume` continues: the one named, or the newest run's, provided no later run
 * superseded it (rollout/resumable.ts). Read before pre_deploy runs or anything is locked.
 */
export async function findResumable(
  deploysDir: string,
  id: string | undefined,
  fleetFile: string,
): Promise<{ id: string; replay: Replay }> {
  const names = (await readdir(deploysDir).catch(() => [] as string[])).filter((n) => n.endsWith('.jsonl'));
  const journals = await Promise.all(
    names.map(async (name) =>
      replayJournal(await readFile(path.join(deploysDir, name), 'utf8').catch(() => '')),
    ),
  );
  const run = chooseResumable(
    journals.filter((replay) => replay !== undefined),
    id,
    deploysDir,
    fleetFile,
  );
  return { id: run.id, replay: run };
}
