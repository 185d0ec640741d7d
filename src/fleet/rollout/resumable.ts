// Which run `pier deploy --resume` may continue, from the journals this controller keeps
// (.pier/deploys/<id>.jsonl). Only the newest run may be continued: a deploy that a later deploy
// or rollback followed is stale, and resuming it would put back what that later run replaced.
// A run that ended `refused` (the fleet lock was held, a --to no host holds) moved no host and
// supersedes nothing. Runs of another inventory file (`-c staging.yml`) are another fleet's and
// are left out. No I/O here: deploy.ts findResumable reads the journals.
import { FleetError } from '../errors.js';
import { type Replay, ranWith } from './journal.js';

export type Run = Replay & { id: string };

/**
 * The run to resume: `id`'s, or the newest run when `id` is undefined. Throws FleetError
 * FLEET_NOT_RESUMABLE saying why not: exit 2 when a later run superseded it or it is a rollback.
 */
export function chooseResumable(
  journals: readonly Replay[],
  id: string | undefined,
  dir: string,
  fleetFile: string,
): Run {
  const named = id === undefined ? undefined : journals.find((replay) => replay.start.id === id);
  if (named !== undefined && !ranWith(named, fleetFile)) {
    throw new FleetError(
      'FLEET_NOT_RESUMABLE',
      `deploy ${id} ran with ${named.start.fleet}, not ${fleetFile}`,
      {
        hint: `resume it with its own inventory: pier deploy --resume ${id} -c ${named.start.fleet}`,
        exitCode: 2,
      },
    );
  }
  // This inventory's runs only (journal.ts ranWith), oldest first, by when each started (an
  // id's stamp has whole seconds only).
  const runs = journals
    .filter((replay) => ranWith(replay, fleetFile))
    .map((replay) => ({ ...replay, id: replay.start.id }))
    .sort((a, b) => a.start.at.localeCompare(b.start.at) || a.id.localeCompare(b.id));
  const moved = runs.filter((run) => run.end !== 'refused');
  // The newest run an unfinished rollback: that is what is left to finish, not an older deploy.
  const newest = moved.at(-1);
  if (id === undefined && newest?.start.action === 'rollback' && newest.end === undefined) {
    throw rollbackRefused(newest, 'the newest run is ');
  }
  const target =
    id === undefined
      ? moved.findLast((run) => run.start.action === 'deploy' && run.end === undefined)
      : runs.find((run) => run.id === id);
  if (target === undefined) {
    // Nothing to resume is a request that cannot be carried out as asked: bad input, exit 2.
    throw new FleetError(
      'FLEET_NOT_RESUMABLE',
      id ? `no journal for deploy ${id}` : 'no interrupted deploy to resume',
      { hint: `journals are in ${dir}`, exitCode: 2 },
    );
  }
  if (target.start.action !== 'deploy') throw rollbackRefused(target, '');
  if (target.end !== undefined) {
    throw new FleetError('FLEET_NOT_RESUMABLE', `deploy ${target.id} already ended (${target.end})`, {
      hint: 'start a new deploy instead',
    });
  }
  // The first run after it that moved hosts (the target itself is one: it never ended).
  const later = moved[moved.indexOf(target) + 1];
  if (later !== undefined) {
    const { version } = target.start;
    throw new FleetError(
      'FLEET_NOT_RESUMABLE',
      `deploy ${target.id} (${version}) was superseded by ${later.start.action} ${later.id} (${later.start.version}, ${later.end ?? 'unfinished'})`,
      {
        hint: `resuming it would undo what the later run did; \`pier status\` shows what each host runs, \`pier deploy ${version}\` deploys ${version} again`,
        exitCode: 2,
      },
    );
  }
  return target;
}

function rollbackRefused(run: Run, lead: string): FleetError {
  return new FleetError(
    'FLEET_NOT_RESUMABLE',
    `${lead}rollback ${run.id} (${run.start.version}, ${run.end ?? 'unfinished'}); --resume continues deploys only`,
    {
      hint: '`pier rollback` carries on with a rollback that did not finish; `pier status` shows what each host runs; `pier deploy VERSION` goes on from there',
      exitCode: 2,
    },
  );
}
