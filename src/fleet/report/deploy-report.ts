// The JSON report of one deploy or rollback, written to .pier/deploys/<id>.json: what a CI job
// or a later `pier status` reads instead of parsing the console output.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { HookRun } from '../rollout/hook-steps.js';
import type { RolloutResult } from '../rollout/runner.js';

export interface DeployReport {
  id: string;
  action: 'deploy' | 'rollback';
  version: string;
  sha256: string | undefined;
  owner: string;
  outcome: RolloutResult['outcome'] | 'refused';
  haltReason: string | undefined;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  directUploads: number;
  /** The `once` hooks' runs and every failed hook run (output: the last 8 KiB, secrets redacted). */
  hooks: HookRun[];
  hosts: Array<{
    name: string;
    dc: string;
    state: string;
    version: string | undefined;
    previous: string | undefined;
    error: string | undefined;
    code: string | undefined;
    /** Failed, and the release it returned to failed its health gate too (or returning failed). */
    down: boolean;
  }>;
  /** Hosts where this run's lock may remain (releasing it failed), with why; empty when none. */
  locksLeft: Array<{ name: string; error: string }>;
}

export function buildReport(
  base: Omit<
    DeployReport,
    'hosts' | 'outcome' | 'haltReason' | 'finishedAt' | 'durationMs' | 'directUploads' | 'locksLeft' | 'hooks'
  >,
  result: RolloutResult,
  finished: Date,
  locksLeft: ReadonlyArray<{ host: { name: string }; error: string }> = [],
): DeployReport {
  return {
    ...base,
    outcome: result.outcome,
    haltReason: result.haltReason,
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - Date.parse(base.startedAt),
    directUploads: result.directUploads,
    hooks: result.hooks,
    hosts: result.hosts.map((h) => ({
      name: h.host.name,
      dc: h.host.dc,
      state: h.state,
      version: h.version,
      previous: h.previous,
      error: h.error,
      code: h.code,
      down: h.down === true,
    })),
    locksLeft: locksLeft.map((entry) => ({ name: entry.host.name, error: entry.error })),
  };
}

export async function writeReport(dir: string, report: DeployReport): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${report.id}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}
