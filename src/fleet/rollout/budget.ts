// Failure budget arithmetic. A budget is a count or a share of the hosts it covers; the rollout
// is over budget when failures exceed it, globally or in any one data center.
import type { Amount } from '../inventory/schema.js';

/** Failures tolerated among `total` hosts: a share rounds down (10% of 9 hosts tolerates 0). */
export function allowedFailures(amount: Amount, total: number): number {
  if (amount.kind === 'count') return amount.value;
  return Math.floor((total * amount.value) / 100 + 1e-9);
}

/** Hosts for a canary or a window: a share rounds up, so "10%" of 5 hosts is 1, never 0. */
export function hostCount(amount: Amount, total: number): number {
  const raw =
    amount.kind === 'count' ? amount.value : Math.max(0, Math.ceil((total * amount.value) / 100 - 1e-9));
  return Math.min(total, raw);
}

export interface BudgetBreach {
  /** `fleet`, or `data center <name>`. */
  scope: string;
  /** The data center over its own budget; undefined for the fleet's. */
  dc?: string | undefined;
  failures: number;
  allowed: number;
}

export class FailureBudget {
  private total = 0;
  private readonly perDc = new Map<string, number>();

  constructor(
    private readonly globalAllowed: number,
    private readonly dcAllowed: ReadonlyMap<string, number>,
  ) {}

  /** Counts one failed host; returns the breach it causes, if any. */
  fail(dc: string): BudgetBreach | undefined {
    this.total++;
    this.perDc.set(dc, (this.perDc.get(dc) ?? 0) + 1);
    return this.breach();
  }

  breach(): BudgetBreach | undefined {
    if (this.total > this.globalAllowed)
      return { scope: 'fleet', failures: this.total, allowed: this.globalAllowed };
    for (const [dc, failures] of this.perDc) {
      const allowed = this.dcAllowed.get(dc) ?? 0;
      if (failures > allowed) return { scope: `data center ${dc}`, dc, failures, allowed };
    }
    return undefined;
  }

  /** `breach` with the failures counted in its scope now, which may be more than at the breach. */
  recount(breach: BudgetBreach): BudgetBreach {
    const failures = breach.dc === undefined ? this.total : (this.perDc.get(breach.dc) ?? 0);
    return { ...breach, failures };
  }
}
