// What a plain `pier rollback` undoes, from the journals on this controller: the last deploy,
// however it ended (done, interrupted, killed, halted, partly rolled back), and only it. A host
// the deploy switched returns to the release the deploy journaled as its previous one; a host it
// never switched (or already put back) stays where it is. Going by each host's own history
// instead would move the hosts the deploy never reached too, onto an older release, or onto the
// very release that was being aborted, and leave the fleet on several releases. rollback.ts goes
// by that history after a rollback that finished; an unclean plain one is carried on with.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { counted } from '../../common/counted.js';
import { mayRunNew } from './host-state.js';
import { type Replay, ranWith, replayJournal } from './journal.js';

export interface DeployToUndo {
  id: string;
  version: string;
  /** How it ended: its journal's `end` (halted, rolled-back), or `interrupted` without one. */
  outcome: string;
  /** The hosts it switched and did not put back itself, each with the release it ran before. */
  switched: ReadonlyMap<string, string | undefined>;
}

/**
 * The deploy a plain rollback undoes: the newest deploy journaled in `deploysDir`, however it
 * ended (done, with hosts that failed and went back, halted, interrupted), or the deploy that
 * the newest run, a rollback that did not finish cleanly (finishedCleanly), was undoing (run
 * again, it carries on with the same deploy). Passed over: runs that ended `refused`, deploys
 * that switched no host to another release (interrupted while staging, or a redeploy of the
 * release the hosts ran: nothing of them to undo, the deploy before them is the last one), and
 * runs of another inventory file than `fleetFile` (journal.ts ranWith). Undefined when the newest run is a rollback that finished cleanly, or a plain one
 * that did not (findRollbackToContinue): a rollback then goes by each host's history
 * (history.ts previousGood).
 */
export async function findDeployToUndo(
  deploysDir: string,
  fleetFile: string,
): Promise<DeployToUndo | undefined> {
  const replay = await newestRun(deploysDir, fleetFile);
  if (replay === undefined) return undefined;
  if (replay.start.action === 'deploy') return deployToUndo(replay);
  const undone = replay.start.undoes;
  if (finishedCleanly(replay) || undone === undefined) return undefined;
  const deploy = await readReplay(path.join(deploysDir, `${undone}.jsonl`));
  return deploy?.start.action === 'deploy' ? deployToUndo(deploy) : undefined;
}

/** Ended `done` with no host failed: a rollback with a host it could not move is not over. */
export function finishedCleanly(replay: Replay): boolean {
  return replay.end === 'done' && ![...replay.hosts.values()].some((host) => host.state === 'failed');
}

/**
 * The plain rollback (no --to, no deploy to undo) a plain `pier rollback` carries on with: the
 * newest run of `fleetFile`, when it is such a rollback and did not end `done` (interrupted,
 * killed, halted). Its `switched` are the hosts it, and the unfinished rollbacks it carried on
 * with (`continues`), moved: they stay, rather than go one more release back in their history.
 */
export async function findRollbackToContinue(
  deploysDir: string,
  fleetFile: string,
): Promise<DeployToUndo | undefined> {
  let replay = await newestRun(deploysDir, fleetFile);
  if (replay === undefined || !isPlainRollback(replay) || finishedCleanly(replay)) return undefined;
  const first = deployToUndo(replay);
  const switched = new Map(first.switched);
  // Each carried on with the one before it: the hosts all of them moved stay.
  for (let hops = 0; replay?.start.continues !== undefined && hops < 100; hops++) {
    replay = await readReplay(path.join(deploysDir, `${replay.start.continues}.jsonl`));
    if (replay === undefined || !isPlainRollback(replay)) break;
    for (const [host, previous] of deployToUndo(replay).switched)
      if (!switched.has(host)) switched.set(host, previous);
  }
  return { ...first, switched };
}

const isPlainRollback = (replay: Replay): boolean =>
  replay.start.action === 'rollback' &&
  replay.start.undoes === undefined &&
  replay.start.version === 'previous';

/**
 * Where a host goes when a plain rollback carries on with `carried`: nowhere when that rollback
 * moved it (it runs something else than the release it ran before); undefined otherwise, and the
 * host's history decides.
 */
export function carryOnStep(
  carried: DeployToUndo,
  host: string,
  current: string | undefined,
): UndoStep | undefined {
  if (!carried.switched.has(host) || current === carried.switched.get(host)) return undefined;
  return { stay: `rollback ${carried.id} moved it already (to ${current ?? 'nothing'})` };
}

/**
 * The runs of `fleetFile` journaled in `deploysDir` that may have changed something (not
 * `refused`), newest first, skipping deploys that switched no host.
 */
async function* runsNewestFirst(deploysDir: string, fleetFile: string): AsyncGenerator<Replay> {
  const names = (await readdir(deploysDir).catch(() => [] as string[]))
    .filter((name) => name.endsWith('.jsonl'))
    .sort()
    .reverse();
  for (const name of names) {
    const replay = await readReplay(path.join(deploysDir, name));
    if (replay === undefined || replay.end === 'refused' || !ranWith(replay, fleetFile)) continue;
    if (replay.start.action === 'deploy' && deployToUndo(replay).switched.size === 0) continue;
    yield replay;
  }
}

/** The newest of runsNewestFirst. */
async function newestRun(deploysDir: string, fleetFile: string): Promise<Replay | undefined> {
  for await (const replay of runsNewestFirst(deploysDir, fleetFile)) return replay;
  return undefined;
}

async function readReplay(file: string): Promise<Replay | undefined> {
  return replayJournal(await readFile(file, 'utf8').catch(() => ''));
}

/**
 * The journal writes `activating` with `previous` before a host's switch, so a host without it
 * was never switched (a host's very first deploy has no `previous`: its state says). One the
 * deploy rolled back itself is on `previous` again. The rest may still run the deploy's release
 * (a failed host's revert can fail too): undoStep decides from what each runs now.
 */
export function deployToUndo(replay: Replay): DeployToUndo {
  const switched = new Map<string, string | undefined>();
  for (const [host, record] of replay.hosts) {
    // Put back already, or deployed the release it ran (a redeploy): nothing of it to undo there.
    if (record.state === 'rolled-back' || record.previous === replay.start.version) continue;
    if (record.previous !== undefined || mayRunNew(record.state) || record.state === 'rolling-back')
      switched.set(host, record.previous);
  }
  return {
    id: replay.start.id,
    version: replay.start.version,
    outcome: replay.end ?? 'interrupted',
    switched,
  };
}

/** Where one host goes when `undo` is undone: a release, or nowhere (and why). */
export type UndoStep = { to: string } | { stay: string } | { fail: string; code: string };

/**
 * Decided under the host's lock from what it runs now (`current`): only a host still on the
 * deploy's release moves, so a host that failed and went back, or that another run moved since,
 * is left alone.
 */
export function undoStep(undo: DeployToUndo, host: string, current: string | undefined): UndoStep {
  if (!undo.switched.has(host)) return { stay: `deploy ${undo.id} never switched it` };
  if (current !== undo.version) return { stay: `it runs ${current ?? 'nothing'}, not ${undo.version}` };
  const previous = undo.switched.get(host);
  if (previous === undefined)
    return {
      fail: `deploy ${undo.id} was its first: no earlier release to return to`,
      code: 'FLEET_NO_PREVIOUS',
    };
  if (previous === undo.version) return { stay: `it ran ${previous} before deploy ${undo.id} too` };
  return { to: previous };
}

/**
 * `v2: 1 host (ams-1); unchanged: 5 hosts (ams-2, …)`: where the hosts end, by release, the
 * largest group first, unchanged hosts last; up to 8 names each.
 */
export function versionPlan(targets: ReadonlyMap<string, string>, unchanged: readonly string[]): string {
  const byVersion = new Map<string, string[]>();
  for (const [host, version] of targets) byVersion.set(version, [...(byVersion.get(version) ?? []), host]);
  const groups = [...byVersion].sort((a, b) => b[1].length - a[1].length);
  if (unchanged.length > 0) groups.push(['unchanged', [...unchanged]]);
  return groups
    .map(([label, hosts]) => {
      const shown = hosts.slice(0, 8).join(', ') + (hosts.length > 8 ? `, … (${hosts.length - 8} more)` : '');
      return `${label}: ${counted(hosts.length, 'host')} (${shown})`;
    })
    .join('; ');
}
