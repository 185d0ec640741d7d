// What the dashboard shows of one deploy or rollback, from its journal (.pier/deploys/<id>.jsonl,
// replayed by rollout/journal.ts as `--resume` does) or, once it ended, its JSON report
// (<id>.json). Pure: the files are read by deploy-files.ts.
import type { DeployReport } from '../report/deploy-report.js';
import { type FailureGroup, failureGroups } from '../report/summary.js';
import { type HostState, hostStates } from '../rollout/host-state.js';
import type { Replay } from '../rollout/journal.js';

export interface DeployHost {
  name: string;
  dc: string;
  state: string;
  error: string | undefined;
  code: string | undefined;
}

export interface DcCounts {
  dc: string;
  hosts: number;
  /** Hosts per state (every state of rollout/host-state.ts, zero when none). */
  states: Record<HostState, number>;
}

export interface DeploySummary {
  id: string;
  action: 'deploy' | 'rollback';
  version: string;
  owner: string;
  startedAt: string;
  /** The journal's `end` or the report's outcome; undefined while the run has not ended. */
  outcome: string | undefined;
  finishedAt: string | undefined;
  halt: string | undefined;
  /** What the run is doing now, from its hosts' states (see `phaseOf`). */
  phase: string;
  dcs: DcCounts[];
  /** Failed hosts grouped by message, largest group first, as the CLI prints them. */
  failures: FailureGroup[];
  hosts: DeployHost[];
}

/** A running or interrupted run, from its journal. `dcOf` maps a host name to its data center. */
export function summaryOfJournal(replay: Replay, dcOf: (name: string) => string | undefined): DeploySummary {
  const hosts = replay.start.hosts.map((name): DeployHost => {
    const record = replay.hosts.get(name);
    return {
      name,
      dc: dcOf(name) ?? '-',
      state: record?.state ?? 'pending',
      error: record?.error,
      code: record?.code,
    };
  });
  return {
    id: replay.start.id,
    action: replay.start.action,
    version: replay.start.version,
    owner: replay.start.owner,
    startedAt: replay.start.at,
    outcome: replay.end,
    finishedAt: undefined,
    halt: replay.halt,
    phase: phaseOf(hosts, replay.halt, replay.end),
    dcs: countsPerDc(hosts),
    failures: failureGroups(hosts),
    hosts,
  };
}

/** A finished run, from its report. */
export function summaryOfReport(report: DeployReport): DeploySummary {
  const hosts = report.hosts.map(
    (h): DeployHost => ({ name: h.name, dc: h.dc, state: h.state, error: h.error, code: h.code }),
  );
  return {
    id: report.id,
    action: report.action,
    version: report.version,
    owner: report.owner,
    startedAt: report.startedAt,
    outcome: report.outcome,
    finishedAt: report.finishedAt,
    halt: report.haltReason,
    phase: 'finished',
    dcs: countsPerDc(hosts),
    failures: failureGroups(hosts),
    hosts,
  };
}

/**
 * The phase of a run from its hosts: `finished` once it ended; `halted: REASON` (rolling back
 * while hosts are still moving back); `rolling back`; `activating` once a host switches;
 * `staging` while artifacts are being placed; `starting` before any host moved (the lock phase).
 */
export function phaseOf(
  hosts: readonly { state: string }[],
  halt: string | undefined,
  end: string | undefined,
): string {
  if (end !== undefined) return 'finished';
  const any = (...states: string[]) => hosts.some((h) => states.includes(h.state));
  if (halt !== undefined)
    return any('rolling-back', 'activating') ? `halted (${halt}): rolling back` : `halted: ${halt}`;
  if (any('rolling-back')) return 'rolling back';
  if (any('activating', 'healthy', 'rolled-back')) return 'activating';
  if (any('staging', 'staged', 'failed')) return 'staging';
  return 'starting';
}

export function countsPerDc(hosts: readonly { dc: string; state: string }[]): DcCounts[] {
  const rows = new Map<string, DcCounts>();
  for (const host of hosts) {
    let row = rows.get(host.dc);
    if (!row) {
      row = {
        dc: host.dc,
        hosts: 0,
        states: Object.fromEntries(hostStates.map((s) => [s, 0])) as Record<HostState, number>,
      };
      rows.set(host.dc, row);
    }
    row.hosts++;
    if (host.state in row.states) row.states[host.state as HostState]++;
  }
  return [...rows.values()];
}

/** Per host, its record in the newest run that included it (`runs` newest first). */
export function lastRunOf(
  runs: readonly DeploySummary[],
): Map<string, { run: DeploySummary; host: DeployHost }> {
  const out = new Map<string, { run: DeploySummary; host: DeployHost }>();
  for (const run of runs)
    for (const host of run.hosts) if (!out.has(host.name)) out.set(host.name, { run, host });
  return out;
}
