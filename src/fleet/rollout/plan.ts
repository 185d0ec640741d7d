// The pure rollout planner: hosts + policy → per data center, the canaries and then the rest
// under a sliding window, with the failure budgets. The runner follows it; --dry-run prints it.
import type { Datacenter, Fleet, Host } from '../inventory/inventory.js';
import { allowedFailures, hostCount } from './budget.js';

export interface DcPlan {
  name: string;
  canaries: Host[];
  rest: Host[];
  /** Hosts in flight at once after the canaries. */
  window: number;
  failureBudget: number;
}

export interface Plan {
  datacenters: DcPlan[];
  /** How many data centers roll at the same time (in order). */
  dcParallel: number;
  failureBudget: number;
  hostCount: number;
}

export function planRollout(datacenters: readonly Datacenter[], fleet: Pick<Fleet, 'rollout'>): Plan {
  const selected = datacenters.filter((dc) => dc.hosts.length > 0);
  const total = selected.reduce((sum, dc) => sum + dc.hosts.length, 0);
  return {
    datacenters: selected.map((dc) => {
      const canaries = hostCount(dc.canary, dc.hosts.length);
      return {
        name: dc.name,
        canaries: dc.hosts.slice(0, canaries),
        rest: dc.hosts.slice(canaries),
        window: Math.max(1, hostCount(dc.window, dc.hosts.length)),
        failureBudget: allowedFailures(dc.failureBudget, dc.hosts.length),
      };
    }),
    dcParallel: fleet.rollout.dc_parallel,
    failureBudget: allowedFailures(fleet.rollout.failure_budget, total),
    hostCount: total,
  };
}

/**
 * The plan as waves, for people: the canaries, then the rest cut into window-sized groups. The
 * runner does not wait for a whole wave: a host starts as soon as any in-flight host finishes.
 */
export function waves(dc: DcPlan): Host[][] {
  const out: Host[][] = dc.canaries.length > 0 ? [dc.canaries] : [];
  for (let at = 0; at < dc.rest.length; at += dc.window) out.push(dc.rest.slice(at, at + dc.window));
  return out;
}
