// The end of a rollout, for people: a table per data center, failures grouped by message
// (the same problem on 300 hosts is one line), and the outcome.

import { counted } from '../../common/counted.js';
import { unlockCommand } from '../lock.js';
import type { HostOutcome, RolloutResult } from '../rollout/runner.js';

export function summaryTable(hosts: readonly HostOutcome[]): string {
  const always = ['healthy', 'failed', 'rolled-back', 'skipped', 'staged'] as const;
  // A rollback that undid a deploy counts the hosts it left as they were.
  const columns = hosts.some((h) => h.state === 'unchanged') ? [...always, 'unchanged' as const] : always;
  const rows = new Map<string, Map<string, number>>();
  for (const outcome of hosts) {
    const row = rows.get(outcome.host.dc) ?? new Map<string, number>();
    row.set(outcome.state, (row.get(outcome.state) ?? 0) + 1);
    row.set('hosts', (row.get('hosts') ?? 0) + 1);
    rows.set(outcome.host.dc, row);
  }
  const header = ['dc', 'hosts', ...columns];
  const body = [...rows].map(([dc, row]) => [
    dc,
    String(row.get('hosts') ?? 0),
    ...columns.map((c) => String(row.get(c) ?? 0)),
  ]);
  const totals = [
    'total',
    String(hosts.length),
    ...columns.map((c) => String(hosts.filter((h) => h.state === c).length)),
  ];
  return table([header, ...body, totals]);
}

/** Failed hosts grouped by message, the largest group first; a host has `name` or `host.name`. */
export interface FailureGroup {
  message: string;
  hosts: string[];
}

/**
 * Groups failed hosts by their error message. Hosts whose messages differ only in their own
 * `deploy_to` (a path in the message, as in "see /srv/a/shared/log/app.log") share a group, whose
 * message then reads `<deploy_to>` in its place; a group of one deploy_to keeps the path.
 */
export function failureGroups(
  hosts: ReadonlyArray<{
    state: string;
    error: string | undefined;
    name?: string;
    host?: { name: string; deployTo?: string };
  }>,
): FailureGroup[] {
  const groups = new Map<string, { message: string; names: string[]; deployTos: Set<string> }>();
  for (const outcome of hosts) {
    if (outcome.state !== 'failed') continue;
    const message = outcome.error ?? 'unknown error';
    const key = messageKey(message, outcome.host?.deployTo);
    const group = groups.get(key) ?? { message, names: [], deployTos: new Set() };
    group.names.push(outcome.name ?? outcome.host?.name ?? '?');
    group.deployTos.add(outcome.host?.deployTo ?? '');
    groups.set(key, group);
  }
  return [...groups]
    .sort((a, b) => b[1].names.length - a[1].names.length)
    .map(([key, group]) => ({ message: group.deployTos.size > 1 ? key : group.message, hosts: group.names }));
}

/** `message` with the host's own deploy_to (a whole path component sequence) as `<deploy_to>`. */
function messageKey(message: string, deployTo: string | undefined): string {
  if (!deployTo || deployTo === '/') return message;
  // Only where the path ends there or continues with a `/`: /srv/app is not part of /srv/app2.
  return message
    .split(deployTo)
    .reduce((out, part, i) =>
      i === 0 ? part : /^(\/|$|[^\w.-])/.test(part) ? `${out}<deploy_to>${part}` : `${out}${deployTo}${part}`,
    );
}

/**
 * `address:port` pier tried for a host it could not connect to (error code FLEET_SSH_CONNECT),
 * unless the host's name is that address: failure messages leave it out so that hosts with the
 * same problem group, and the lists of hosts show it.
 */
export function triedAddress(
  host: { name: string; address: string; port: number },
  code: string | undefined,
): string | undefined {
  return code === 'FLEET_SSH_CONNECT' && host.name !== host.address
    ? `${host.address}:${host.port}`
    : undefined;
}

/**
 * One entry per failure message: its count, then up to 8 of its hosts. A host that could not be
 * reached is shown with the address and port pier tried (the message leaves them out, so that
 * hosts with the same problem group), unless its name is that address.
 */
export function groupedFailures(hosts: readonly HostOutcome[]): string[] {
  const where = new Map<string, string>();
  const hints = new Map<string, string>();
  for (const outcome of hosts) {
    const tried = triedAddress(outcome.host, outcome.code);
    if (tried) where.set(outcome.host.name, `${outcome.host.name} (${tried})`);
    if (outcome.state === 'failed' && outcome.hint && !hints.has(outcome.host.name))
      hints.set(outcome.host.name, outcome.hint);
  }
  return failureGroups(hosts).map(({ message, hosts: names }) => {
    const listed = names.slice(0, 8).map((name) => where.get(name) ?? name);
    const shown = listed.join(', ') + (names.length > 8 ? `, … (${names.length - 8} more)` : '');
    const hint = names.map((name) => hints.get(name)).find((found) => found !== undefined);
    return `${counted(names.length, 'host')}: ${message}\n    ${shown}${hint ? `\n    hint: ${hint}` : ''}`;
  });
}

/**
 * The last line of a deploy or rollback. `locksLeft` names the hosts where this run's lock may
 * remain: then the line never says "done" (the next deploy would be refused until the lock
 * expires) and gives the command that removes them.
 */
export function outcomeLine(
  result: RolloutResult,
  version: string,
  action: string,
  locksLeft: readonly string[] = [],
): string {
  const healthy = result.hosts.filter((h) => h.state === 'healthy').length;
  const unchanged = result.hosts.filter((h) => h.state === 'unchanged').length;
  // Hosts a rollback left alone are not part of "N/M healthy": they were not asked to move.
  const total = result.hosts.length - unchanged;
  const rest = unchanged > 0 ? `, ${unchanged} unchanged` : '';
  const notes = [downNote(result.hosts), locksLeft.length > 0 ? locksLeftNote(locksLeft) : ''].filter(
    Boolean,
  );
  if (result.outcome === 'done') {
    if (notes.length > 0)
      return `${action} ${version}: ${healthy}/${total} hosts healthy${rest}, but ${notes.join('; ')}`;
    return `${action} ${version}: done, ${healthy}/${total} hosts healthy${rest}`;
  }
  const tail = notes.map((note) => `; ${note}`).join('');
  if (result.outcome === 'rolled-back') {
    return `${action} ${version}: stopped and rolled back (${result.haltReason ?? 'halted'})${tail}`;
  }
  if (result.outcome === 'interrupted') {
    return `${action} ${version}: interrupted with ${healthy}/${total} hosts healthy${rest}; ${continuation(result, version, action)}${tail}`;
  }
  return `${action} ${version}: stopped (${result.haltReason ?? 'halted'})${tail}`;
}

/**
 * `1 host is left with no healthy release (fra-3)`: hosts that failed and whose return to their
 * previous release did not pass its health gate either (HostOutcome.down); '' when none.
 */
export function downNote(hosts: readonly HostOutcome[]): string {
  const names = hosts.filter((h) => h.down === true).map((h) => h.host.name);
  if (names.length === 0) return '';
  const shown = names.slice(0, 10).join(', ') + (names.length > 10 ? `, … (${names.length - 10} more)` : '');
  return `${counted(names.length, 'host')} ${names.length === 1 ? 'is' : 'are'} left with no healthy release (${shown})`;
}

/** `this deploy's lock remains on 2 hosts (a, b): \`pier unlock --hosts a,b\` removes it` */
export function locksLeftNote(hosts: readonly string[]): string {
  const shown = hosts.slice(0, 10).join(', ') + (hosts.length > 10 ? `, … (${hosts.length - 10} more)` : '');
  return `this deploy's lock remains on ${counted(hosts.length, 'host')} (${shown}): \`${unlockCommand(hosts)}\` removes it`;
}

/**
 * How to finish an interrupted run. A deploy resumes from its journal. A rollback is not
 * journaled for resuming, and run again without --to it would take the hosts it already moved
 * one release further back: so it names the hosts it never started.
 */
function continuation(result: RolloutResult, version: string, action: string): string {
  if (action !== 'rollback') return '`pier deploy --resume` continues it';
  const skipped = result.hosts.filter((h) => h.state === 'skipped').map((h) => h.host.name);
  if (skipped.length === 0) return 'no host was left unstarted';
  const to = version === 'previous' ? '' : ` --to ${version}`;
  return `\`pier rollback${to} --hosts ${skipped.join(',')}\` finishes it`;
}

/** Rows (the first is the header) as columns two spaces apart, without trailing spaces. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  // Numbers line up on the right (counts, bytes), words on the left (names, versions, notes).
  const numeric = widths.map((_, column) =>
    rows.slice(1).every((row) => /^[\d.,]*$/.test(row[column] ?? '')),
  );
  return rows
    .map((row) =>
      row
        .map((cell, column) =>
          column > 0 && numeric[column]
            ? cell.padStart(widths[column] ?? 0)
            : cell.padEnd(widths[column] ?? 0),
        )
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
