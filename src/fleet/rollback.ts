// `pier rollback [--to VERSION]`: the last deploy is undone (rollout/undo.ts: the hosts it
// switched go back, the others stay); after a rollback that finished, each host goes back to the
// release below its current one in its history (rollout/history.ts previousGood, from its
// revisions.log), and an unclean plain rollback is carried on with; or every host goes to
// VERSION, which must still be on disk. Same lock, window, health gate and report as a deploy;
// no automatic roll-forward.
import path from 'node:path';
import { counted } from '../common/counted.js';
import { type DeployOutcome, finishRun, holdDuring, noteLocksLeft } from './deploy.js';
import { FleetError } from './errors.js';
import type { Datacenter, Host } from './inventory/inventory.js';
import { Limiter } from './limiter.js';
import { type LockInfo, lockFleet, releaseFleetLock, takeFleetLock } from './lock.js';
import { checkVersion } from './release/version.js';
import { inPhase } from './report/phase-progress.js';
import { previousGood } from './rollout/history.js';
import { Journal } from './rollout/journal.js';
import { planRollout } from './rollout/plan.js';
import { type RolloutResult, runRollout } from './rollout/runner.js';
import {
  carryOnStep,
  type DeployToUndo,
  findDeployToUndo,
  findRollbackToContinue,
  type UndoStep,
  undoStep,
  versionPlan,
} from './rollout/undo.js';
import { type FleetSession, newDeployId } from './session.js';
import { probeHost } from './status.js';

export interface RollbackRequest {
  to: string | undefined;
  selection: Datacenter[];
  /** As for a deploy: hosts in flight finish, nothing new starts, the locks are released. */
  signal?: AbortSignal | undefined;
}

/**
 * Undefined when there was nothing to roll back: the deploy it would undo left no selected host
 * on its release (nothing was changed, and it said so).
 */
export async function rollback(
  session: FleetSession,
  request: RollbackRequest,
): Promise<DeployOutcome | undefined> {
  const to = request.to === undefined ? undefined : checkVersion(request.to);
  const { fleet, pool, store, out } = session;
  const selected = request.selection.flatMap((dc) => dc.hosts);
  // Without --to, the journals decide: the last deploy is undone, and only it.
  const undo =
    to === undefined
      ? await stillToUndo(session, await findDeployToUndo(store.deploysDir(), session.fleetFile))
      : undefined;
  // Else an unfinished plain rollback is carried on with: the hosts it moved stay.
  const carried =
    to === undefined && !undo
      ? await findRollbackToContinue(store.deploysDir(), session.fleetFile)
      : undefined;
  const hosts = undo ? selected.filter((host) => undo.switched.has(host.name)) : selected;
  const label = to ?? 'previous';
  if (undo) {
    out.write(
      `deploy ${undo.id} (${undo.version}) ended ${undo.outcome}: rolling it back, the hosts it switched return to the release each ran before it\n`,
    );
  }
  if (carried) {
    out.write(
      `rollback ${carried.id} ended ${carried.outcome}: carrying on with it, the hosts it moved stay where they are\n`,
    );
  }
  if (undo && hosts.length === 0) {
    out.write(`${nothingToUndo(undo, selected)}\n`);
    return undefined;
  }
  const id = newDeployId(`rollback-${label}`);
  const startedAt = new Date();
  const lock: LockInfo = {
    owner: session.owner,
    deploy: id,
    since: startedAt.toISOString(),
    expires: new Date(startedAt.getTime() + fleet.lockTtlMs).toISOString(),
  };
  out.write(
    `rolling back ${counted(hosts.length, 'host')} to ${to ?? (undo ? `their release before ${undo.version}` : 'their previous good release')}, ${id}\n`,
  );
  request.signal?.throwIfAborted();
  const lockHost = await takeFleetLock(pool, fleet, lock);
  let locked: Awaited<ReturnType<typeof lockFleet>>;
  try {
    locked = await inPhase(out, session.tty, 'lock', hosts.length, (tick) =>
      lockFleet(pool, hosts, lock, undefined, tick),
    );
  } catch (err) {
    await releaseFleetLock(pool, lockHost, lock.deploy);
    throw err;
  }
  await store.makeDir('deploys');
  const journal = new Journal(path.join(store.deploysDir(), `${id}.jsonl`));
  journal.write({
    type: 'start',
    id,
    action: 'rollback',
    version: label,
    sha256: '',
    hosts: hosts.map((host) => host.name),
    owner: session.owner,
    at: startedAt.toISOString(),
    fleet: session.fleetFile,
    ...(undo ? { undoes: undo.id } : {}),
    ...(carried ? { continues: carried.id } : {}),
  });
  // Where each host goes, decided before anything moves.
  const targets = new Map<string, string>();
  const failedEarly = new Map(locked.unreachable);
  // Hosts left as they are: the deploy being undone never switched them, or they are back.
  const unchanged = new Map(
    selected
      .filter((host) => !hosts.includes(host))
      .map((host) => [host.name, undefined as string | undefined]),
  );
  const probes = new Limiter(256);
  await Promise.all(
    hosts
      .filter((host) => !failedEarly.has(host.name))
      .map((host) =>
        probes.run(async () => {
          const status = await probeHost(pool, host);
          if (status.error) {
            failedEarly.set(host.name, { error: status.error, code: 'FLEET_SSH_CONNECT' });
            return;
          }
          const step = undo
            ? undoStep(undo, host.name, status.current)
            : ((carried && carryOnStep(carried, host.name, status.current)) ??
              targetOf(to ?? previousGood(status.revisions, status.current, status.releases)));
          if ('stay' in step) unchanged.set(host.name, status.current);
          else if ('fail' in step) failedEarly.set(host.name, { error: step.fail, code: step.code });
          else if (!status.releases.includes(step.to)) {
            failedEarly.set(host.name, {
              error: `release ${step.to} is not on this host`,
              code: 'FLEET_NOT_STAGED',
            });
          } else targets.set(host.name, step.to);
        }),
      ),
  );
  const moving = request.selection
    .map((dc) => ({ ...dc, hosts: dc.hosts.filter((host) => !unchanged.has(host.name)) }))
    .filter((dc) => dc.hosts.length > 0);
  const { locks, progress, release } = holdDuring(session, moving, lock, locked.locked, lockHost);
  // --to a release that no host it could read holds: bad input, refused before anything moves.
  const notStaged = [...failedEarly.values()].filter((failure) => failure.code === 'FLEET_NOT_STAGED');
  if (to !== undefined && targets.size === 0 && notStaged.length > 0) {
    noteLocksLeft(session, await release());
    journal.write({ type: 'end', outcome: 'refused', at: new Date().toISOString() });
    throw new FleetError(
      'FLEET_NOT_STAGED',
      `release ${to} is on none of the ${counted(notStaged.length, 'host')} pier read`,
      {
        hint: '`pier status` lists the releases each host holds; --to takes one of them (or deploy it)',
        exitCode: 2,
      },
    );
  }
  if (undo && moving.length === 0) {
    noteLocksLeft(session, await release());
    // Not `done`: the next plain rollback looks at the same deploy again (undo.ts).
    journal.write({ type: 'end', outcome: 'nothing', at: new Date().toISOString() });
    journal.close();
    out.write(`${nothingToUndo(undo, selected)}\n`);
    return undefined;
  }
  // One release for every host (the usual case): the outcome names it, not "previous".
  const chosen = new Set(targets.values());
  const shown = to ?? (chosen.size === 1 ? ([...chosen][0] ?? label) : label);
  // Hosts that end on different releases: say which, before any moves.
  if (undo || carried || chosen.size > 1) out.write(`plan: ${versionPlan(targets, [...unchanged.keys()])}\n`);
  let result: RolloutResult;
  try {
    result = await runRollout({
      fleet,
      plan: planRollout(moving, fleet),
      pool,
      journal,
      deployId: id,
      owner: session.owner,
      action: 'rollback',
      versionFor: (host: Host) => targets.get(host.name) ?? shown,
      artifact: undefined,
      failedEarly,
      onState: (host, state, error) => progress.update(host, state, error),
      locks,
      signal: request.signal,
    });
  } catch (err) {
    noteLocksLeft(session, await release());
    throw err;
  }
  const byName = new Map(selected.map((host) => [host.name, host]));
  const left = [...unchanged].map(([name, version]) => ({
    host: byName.get(name) as Host,
    state: 'unchanged' as const,
    previous: undefined,
    version,
    error: undefined,
    code: undefined,
  }));
  return finishRun(
    session,
    journal,
    { ...result, hosts: [...result.hosts, ...left] },
    {
      id,
      action: 'rollback',
      version: shown,
      sha256: undefined,
      owner: session.owner,
      startedAt: startedAt.toISOString(),
    },
    await release(),
  );
}

/**
 * `undo`, unless that deploy left no host on its release (it rolled itself back, or its one
 * switched host failed and returned): then there is nothing of it to undo, and the rollback goes
 * by each host's history, as after a finished deploy (Capistrano rolls back the last completed
 * one). Read before any lock: the locked probe decides each host again (undoStep).
 */
async function stillToUndo(
  session: FleetSession,
  undo: DeployToUndo | undefined,
): Promise<DeployToUndo | undefined> {
  if (undo === undefined || undo.switched.size === 0) return undefined;
  // Every host it switched is asked, in the selection or not: one still on its release, or one
  // that cannot be asked, makes it the deploy to undo (only the selected hosts move).
  const switched = session.fleet.datacenters
    .flatMap((dc) => dc.hosts)
    .filter((host) => undo.switched.has(host.name));
  const probes = new Limiter(256);
  const now = await Promise.all(switched.map((host) => probes.run(() => probeHost(session.pool, host))));
  return now.some((status) => status.error !== undefined || status.current === undo.version)
    ? undo
    : undefined;
}

function targetOf(version: string | undefined): UndoStep {
  return version === undefined
    ? { fail: 'no earlier healthy release on this host', code: 'FLEET_NO_PREVIOUS' }
    : { to: version };
}

function nothingToUndo(undo: DeployToUndo, selected: readonly Host[]): string {
  const others = [...undo.switched.keys()].filter((name) => !selected.some((host) => host.name === name));
  const where =
    others.length > 0
      ? ` (it switched ${others.slice(0, 8).join(', ')}${others.length > 8 ? ', …' : ''})`
      : '';
  return `nothing to roll back: no selected host runs ${undo.version} from deploy ${undo.id}${where}; ${counted(selected.length, 'host')} unchanged`;
}
