// The exit code of a deploy or rollback, from what happened (docs/fleet.md, "Exit codes").
import type { DeployOutcome } from '../fleet/deploy.js';
import { interruptExitCode } from './interrupts.js';

/** Done, but a lock of the run may remain: the next deploy would be refused (exit 3) until it expires. */
export const lockLeftExitCode = 4;

/**
 * 128 + the signal when interrupted; 1 when stopped, rolled back, when a host is left with no
 * healthy release, or (with `allHealthy`, as for a rollback) when a host failed; else 4 when a
 * lock of the run may remain, else 0.
 */
export function runExitCode(outcome: DeployOutcome, signal: AbortSignal, allHealthy: boolean): number {
  const { result } = outcome;
  if (result.outcome === 'interrupted') return interruptExitCode(signal);
  if (result.outcome !== 'done') return 1;
  if (result.hosts.some((host) => host.down === true)) return 1;
  // A host a rollback left as it was (the deploy it undid never switched it) is not a failure.
  const fine = (state: string): boolean => state === 'healthy' || state === 'unchanged';
  if (allHealthy && !result.hosts.every((host) => fine(host.state))) return 1;
  return outcome.locksLeft.length > 0 ? lockLeftExitCode : 0;
}
