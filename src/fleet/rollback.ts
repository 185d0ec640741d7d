// `pier rollback [--to VERSION]`: each host goes back to the release below its current one in
// its history (rollout/history.ts previousGood, from its revisions.log), or to VERSION, which
// must still be on disk. Same lock, window, health gate and report as a deploy; no automatic
// roll-forward.
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
import { type FleetSession, newDeployId } from './session.js';
import { probeHost } from './status.js';

export interface RollbackRequest {
  to: string | undefined;
  selection: Datacenter[];
  /** As for a deploy: hosts in flight finish, nothing new starts, the locks are released. */
  signal?: AbortSignal | undefined;
}

export async function rollback(session: FleetSession, request: RollbackRequest): Promise<DeployOutcome> {
  const to = request.to === undefined ? undefined : checkVersion(request.to);
  const { fleet, pool, store, out } = session;
  const hosts = request.selection.flatMap((dc) => dc.hosts);
  const label = to ?? 'previous';
  const id = newDeployId(`rollback-${label}`);
  const startedAt = new Date();
  const lock: LockInfo = {
    owner: session.owner,
    deploy: id,
    since: startedAt.toISOString(),
    expires: new Date(startedAt.getTime() + fleet.lockTtlMs).toISOString(),
  };
  out.write(
    `rolling back ${counted(hosts.length, 'host')} to ${to ?? 'their previous good release'}, ${id}\n`,
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
  });
  // Where each host goes, decided before anything moves.
  const targets = new Map<string, string>();
  const failedEarly = new Map(locked.unreachable);
  const probes = new Limiter(256);
  await Promise.all(
    hosts
      .filter((host) => !failedEarly.has(host.name))
      .map((host) =>
        probes.run(async () => {
          const status = await probeHost(pool, host);
          const target = to ?? previousGood(status.revisions, status.current, status.releases);
          if (status.error) failedEarly.set(host.name, { error: status.error, code: 'FLEET_SSH_CONNECT' });
          else if (!target)
            failedEarly.set(host.name, {
              error: 'no earlier healthy release on this host',
              code: 'FLEET_NO_PREVIOUS',
            });
          else if (!status.releases.includes(target)) {
            failedEarly.set(host.name, {
              error: `release ${target} is not on this host`,
              code: 'FLEET_NOT_STAGED',
            });
          } else targets.set(host.name, target);
        }),
      ),
  );
  const { locks, progress, release } = holdDuring(session, request.selection, lock, locked.locked, lockHost);
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
  // One release for every host (the usual case): the outcome names it, not "previous".
  const chosen = new Set(targets.values());
  const shown = to ?? (chosen.size === 1 ? ([...chosen][0] ?? label) : label);
  let result: RolloutResult;
  try {
    result = await runRollout({
      fleet,
      plan: planRollout(request.selection, fleet),
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
  return finishRun(
    session,
    journal,
    result,
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
