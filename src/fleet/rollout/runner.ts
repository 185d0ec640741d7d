// The rollout runner: follows the plan (data centers in order, canaries first, then a sliding
// window), records every host's state in the journal, and enforces the failure budget. Over
// budget, or a canary that fails its health gate: start nothing new, let the hosts in flight
// finish, then roll every host this deploy activated back to the release it had before.

import { codeOf, hintOf } from '../../common/coded-error.js';
import { describeError } from '../errors.js';
import type { Fleet, Host } from '../inventory/inventory.js';
import { Limiter } from '../limiter.js';
import type { DeployLocks } from '../lock.js';
import { redactor } from '../secrets.js';
import type { Connection } from '../ssh/connection.js';
import type { ConnectionPool } from '../ssh/connection-pool.js';
import { type BudgetBreach, FailureBudget } from './budget.js';
import { Distribution } from './distribution.js';
import { HookError, type HookRun, OnceHooks, runHooks } from './hook-steps.js';
import type { HostState } from './host-state.js';
import {
  type Artifact,
  audit,
  currentVersion,
  finishHost,
  passGate,
  SwitchNotDone,
  switchTo,
} from './host-steps.js';
import type { HostRecord, Journal } from './journal.js';
import type { DcPlan, Plan } from './plan.js';

export interface HostOutcome {
  host: Host;
  state: HostState;
  previous: string | undefined;
  version: string | undefined;
  error: string | undefined;
  code: string | undefined;
  /** What to do about `error`, when its error said (CodedError's hint). */
  hint?: string | undefined;
  /**
   * Failed after its switch and left with no release that passed its health gate: the one it
   * returned to failed the gate too, or returning failed. The outcome line names it, and the
   * run's exit code is not 0.
   */
  down?: boolean;
}

export interface RolloutInput {
  fleet: Fleet;
  plan: Plan;
  pool: ConnectionPool;
  journal: Journal;
  deployId: string;
  owner: string;
  /** `deploy` stages the artifact and rolls back over budget; `rollback` only switches. */
  action: 'deploy' | 'rollback';
  /** The release each host should end on. */
  versionFor: (host: Host) => string;
  artifact: (Artifact & { version: string }) | undefined;
  /** From the journal of an interrupted run (--resume). */
  resumed?: ReadonlyMap<string, HostRecord>;
  /** Hosts that already failed (unreachable when locking), counted against the budget. */
  failedEarly?: ReadonlyMap<string, { error: string; code: string }>;
  /** A resumed run whose `once` hooks already ran (journal): they do not run again. */
  onceDone?: boolean;
  /** A resumed run that had already halted only finishes rolling back. */
  haltReason?: string | undefined;
  onState?: (host: Host, state: HostState, error?: string) => void;
  /** This deploy's locks: a finished host releases its own in its last round trip. */
  locks?: DeployLocks | undefined;
  /** Aborted (Ctrl-C): start no new host, let the ones in flight finish, roll nothing back. */
  signal?: AbortSignal | undefined;
}

export interface RolloutResult {
  outcome: 'done' | 'rolled-back' | 'halted' | 'interrupted';
  haltReason: string | undefined;
  hosts: HostOutcome[];
  /** Artifact uploads that crossed from the controller (once per data center with the relay). */
  directUploads: number;
  /** The `once` hooks' runs and every failed hook run, output bounded and redacted. */
  hooks: HookRun[];
}

export async function runRollout(input: RolloutInput): Promise<RolloutResult> {
  return new Rollout(input).run();
}

class Rollout {
  private readonly outcomes = new Map<string, HostOutcome>();
  private readonly budget: FailureBudget;
  private haltReason: string | undefined;
  /** The budget breach that halted this rollout, if that is what halted it. */
  private breach: BudgetBreach | undefined;
  private readonly distribution: Distribution | undefined;
  private readonly once: OnceHooks | undefined;
  private readonly hookRuns: HookRun[] = [];
  /** Secret values out of everything this run records (errors, hook output). */
  private readonly redact: (text: string) => string;

  constructor(private readonly input: RolloutInput) {
    const { plan } = input;
    this.haltReason = input.haltReason;
    this.redact = redactor(input.fleet.env);
    this.budget = new FailureBudget(
      plan.failureBudget,
      new Map(plan.datacenters.map((dc) => [dc.name, dc.failureBudget])),
    );
    for (const dc of plan.datacenters) {
      for (const host of [...dc.canaries, ...dc.rest]) {
        const before = input.resumed?.get(host.name);
        this.outcomes.set(host.name, {
          host,
          state: before?.state === 'healthy' ? 'healthy' : 'pending',
          previous: before?.previous,
          version: before?.state === 'healthy' ? input.versionFor(host) : undefined,
          error: undefined,
          code: undefined,
        });
      }
    }
    if (input.action === 'deploy' && input.artifact) {
      this.distribution = new Distribution(
        input.fleet,
        input.pool,
        input.artifact.version,
        input.artifact,
        () => this.stopping,
        {
          staging: (host) => this.set(host, 'staging'),
          staged: (host) => {
            this.set(host, 'staged');
            input.journal.host(host.name, 'staged');
          },
          failed: (host, err) => {
            this.noteHook(err);
            this.fail(host, describeError(err), codeOf(err, 'FLEET_HOST'), hintOf(err));
          },
        },
        input.locks,
        stagingLead(plan, input.fleet),
      );
    }
    if (input.action === 'deploy' && input.fleet.hooks.once.length > 0) {
      this.once = new OnceHooks(
        async (connection, host) => {
          try {
            return await runHooks(connection, host, input.fleet, input.versionFor(host), 'once', this.redact);
          } catch (err) {
            // Whatever went wrong, no host may switch to code whose migration did not run.
            this.halt(`the once hook failed on ${host.name}: ${this.redact(describeError(err))}`);
            throw err;
          }
        },
        input.onceDone === true,
        (host, runs) => {
          input.journal.write({ type: 'once', host: host.name, at: new Date().toISOString() });
          this.hookRuns.push(...runs);
        },
      );
    }
  }

  async run(): Promise<RolloutResult> {
    for (const [name, failure] of this.input.failedEarly ?? []) {
      const outcome = this.outcomes.get(name);
      if (outcome) this.fail(outcome.host, failure.error, failure.code);
    }
    const todo = [...this.outcomes.values()].filter((o) => o.state === 'pending').map((o) => o.host);
    if (this.haltReason === undefined) this.distribution?.prefetch(interleaved(todo));
    const dcs = new Limiter(this.input.plan.dcParallel);
    await Promise.all(this.input.plan.datacenters.map((dc) => dcs.run(() => this.rollDc(dc))));
    await this.distribution?.close();
    let outcome: RolloutResult['outcome'] = this.input.signal?.aborted ? 'interrupted' : 'done';
    // Hosts in flight at the breach may fail too: the reason gives the count they all came to.
    if (this.breach) this.haltReason = breachText(this.budget.recount(this.breach));
    if (this.haltReason !== undefined) {
      this.input.journal.write({ type: 'halt', reason: this.haltReason, at: new Date().toISOString() });
      outcome = 'halted';
      // A deploy that switched no host has nothing to roll back: it stopped (`halted`).
      if (this.input.action === 'deploy' && ((await this.rollBackActivated()) > 0 || this.switched)) {
        outcome = 'rolled-back';
      }
    }
    for (const o of this.outcomes.values()) {
      if (o.state === 'pending' || o.state === 'staging') this.set(o.host, 'skipped');
    }
    return {
      outcome,
      haltReason: this.haltReason,
      hosts: [...this.outcomes.values()],
      directUploads: this.distribution?.directUploads ?? 0,
      hooks: this.hookRuns,
    };
  }

  /** A failed hook's run goes into the report with its output. */
  private noteHook(err: unknown): void {
    if (err instanceof HookError) this.hookRuns.push(err.run);
  }

  private async rollDc(dc: DcPlan): Promise<void> {
    if (this.stopping) return;
    await Promise.all(dc.canaries.map((host) => this.rollHost(host, true)));
    const window = new Limiter(dc.window);
    await Promise.all(dc.rest.map((host) => window.run(() => this.rollHost(host, false))));
  }

  private async rollHost(host: Host, canary: boolean): Promise<void> {
    const outcome = this.outcomes.get(host.name) as HostOutcome;
    if (outcome.state === 'healthy' || outcome.state === 'failed' || this.stopping) return;
    const { input } = this;
    const version = input.versionFor(host);
    try {
      await this.distribution?.ensure(host);
    } catch {
      return; // counted by the distribution's `failed` event, or skipped after a halt
    } finally {
      this.distribution?.taken(host);
    }
    if (this.stopping) return;
    let previous = outcome.previous;
    let done = false;
    try {
      const connection = await input.pool.connection(host);
      if (previous === undefined) {
        // Read when the host was staged (under this deploy's lock, so it still holds).
        // (`undefined` there is an answer: the host had no `current`, as before a first deploy.)
        const staged = this.distribution ? this.distribution.currentOf(host) : null;
        // The release the host ran: the version itself when this deploy repeats it (the audit
        // line says so, and a failure has nothing else to return to).
        previous = staged !== null ? staged : await currentVersion(connection, host);
      }
      outcome.previous = previous;
      // Hooks before the switch (hook-steps.ts): a failure here leaves the old release serving.
      if (input.action === 'deploy') {
        if (this.once && !(await this.once.before(connection, host))) return;
        if (this.stopping) return;
        await runHooks(connection, host, input.fleet, version, 'before_activate', this.redact);
      }
      this.set(host, 'activating');
      // Restarting the release a host already ran changes no host's release.
      if (previous !== version) this.switched = true;
      input.journal.host(host.name, 'activating', previous ? { previous } : {});
      // From here the host may run the new release: a failure returns it to `previous`.
      outcome.version = version;
      // The release it runs again: restarted even with action reload, since what a redeploy
      // brings (a rotated secret, a changed shared env_file) reaches only a new main process.
      const before = await switchTo(connection, host, input.fleet, version, {
        restart: previous === version,
        fence: input.locks?.fence(host),
      });
      await passGate(connection, host, input.fleet, version, Date.now(), before);
      // After the gate (hook-steps.ts): a failure rolls this host back like a failed gate.
      if (input.action === 'deploy') {
        await runHooks(connection, host, input.fleet, version, 'after_activate', this.redact);
      }
      this.set(host, 'healthy');
      input.journal.host(host.name, 'healthy');
      const entry = {
        at: new Date(),
        deploy: input.deployId,
        action: input.action,
        version,
        previous,
        result: 'healthy',
        by: input.owner,
      };
      const unlocked = await finishHost(
        connection,
        host,
        input.fleet,
        entry,
        input.locks?.releaseScript(host),
      ).catch(() => false);
      if (unlocked) {
        input.locks?.released(host);
        done = true;
      }
    } catch (err) {
      this.noteHook(err);
      const message = describeError(err);
      if (codeOf(err, '') === 'FLEET_LOCK_LOST') {
        // Another run holds this host now: nothing moved here, nothing is returned, and this run
        // starts no other host.
        this.fail(host, message, 'FLEET_LOCK_LOST', hintOf(err));
        this.halt(`this run lost its lock on ${host.name} to another run`);
      } else if (err instanceof SwitchNotDone) {
        // current never moved: the host still runs what it ran, nothing to return.
        outcome.version = previous;
        const still =
          previous === undefined ? 'current unchanged' : `current unchanged: still on ${previous}`;
        this.fail(host, `${message} (${still})`, codeOf(err, 'FLEET_HOST'), hintOf(err));
        if (canary) this.halt(`canary ${host.name} failed: ${message}`);
      } else if (outcome.version === version && input.action === 'deploy') {
        const back = await this.revert(host, previous);
        outcome.down = back.down;
        const hint = [hintOf(err), back.hint].filter((part) => part !== undefined).join('; ');
        this.fail(host, `${message}${back.note}`, codeOf(err, 'FLEET_HOST'), hint || undefined);
        if (canary) this.halt(`canary ${host.name} failed: ${message}`);
      } else {
        this.fail(host, message, codeOf(err, 'FLEET_HOST'), hintOf(err));
      }
    } finally {
      if (done) input.pool.retire(host);
      else input.pool.release(host);
    }
  }

  /**
   * Back to `previous` after this host alone failed, through the same gate as a switch
   * (passGate: under manager none the started process must still run, under systemd a reload
   * must not have been aborted). Returns a note for the error message (no per-host details, so
   * failures still group: those go in `hint`) and whether the host is left down.
   */
  private async revert(
    host: Host,
    previous: string | undefined,
  ): Promise<{ note: string; down: boolean; hint?: string | undefined }> {
    const outcome = this.outcomes.get(host.name) as HostOutcome;
    // Its first deploy: nothing to return to, so it stays on the release that just failed.
    if (previous === undefined) return { note: ' (no previous release to return to)', down: true };
    if (previous === this.input.versionFor(host)) {
      return { note: ` (it ran ${previous} before this deploy too)`, down: false };
    }
    let connection: Connection | undefined;
    let before: Awaited<ReturnType<typeof switchTo>>;
    try {
      connection = await this.input.pool.connection(host);
      before = await switchTo(connection, host, this.input.fleet, previous, {
        fence: this.input.locks?.fence(host),
      });
      outcome.version = previous;
    } catch (err) {
      // `current` may be back while the service step failed again (the same refused sudo rule):
      // say which, since the service never left what it ran when only that step fails.
      const now = connection ? await currentVersion(connection, host).catch(() => undefined) : undefined;
      if (now === previous) {
        outcome.version = previous;
        return {
          note: ` (current is back on ${previous}, but the service step failed there too: ${describeError(err)})`,
          down: true,
        };
      }
      return { note: ` (returning to ${previous} failed too: ${describeError(err)})`, down: true };
    }
    try {
      await passGate(connection, host, this.input.fleet, previous, Date.now(), before);
      return { note: ` (back on ${previous})`, down: false };
    } catch (err) {
      return {
        note: ` (returned to ${previous}, but ${previous} fails its health check too: ${describeError(err)})`,
        down: true,
        hint: hintOf(err) === undefined ? undefined : `on ${previous}, ${hintOf(err)}`,
      };
    }
  }

  /** Some host was switched to another release in this run (and went back if it failed). */
  private switched = false;

  /** Returns how many hosts it returned (or tried to return) to their previous release. */
  private async rollBackActivated(): Promise<number> {
    const wasLive = (name: string): boolean => {
      const state = this.input.resumed?.get(name)?.state;
      return state === 'activating' || state === 'rolling-back';
    };
    // A host that ran this deploy's version before it is on its previous release already.
    const targets = [...this.outcomes.values()].filter(
      (o) =>
        (o.state === 'healthy' ||
          o.state === 'activating' ||
          (o.state === 'pending' && wasLive(o.host.name))) &&
        !(o.previous !== undefined && o.previous === this.input.versionFor(o.host)),
    );
    const limiter = new Limiter(Math.max(1, ...this.input.plan.datacenters.map((dc) => dc.window)));
    await Promise.all(
      targets.map((o) =>
        limiter.run(async () => {
          if (o.previous === undefined) {
            this.set(o.host, 'failed', 'over budget, and no previous release to return to');
            return;
          }
          this.set(o.host, 'rolling-back');
          this.input.journal.host(o.host.name, 'rolling-back');
          try {
            const connection = await this.input.pool.connection(o.host);
            // A host that was done had released its lock: it is taken again before it changes.
            await this.input.locks?.retake(connection, o.host);
            const before = await switchTo(connection, o.host, this.input.fleet, o.previous, {
              fence: this.input.locks?.fence(o.host),
            });
            o.version = o.previous;
            await passGate(connection, o.host, this.input.fleet, o.previous, Date.now(), before);
            this.set(o.host, 'rolled-back');
            this.input.journal.host(o.host.name, 'rolled-back');
            await this.audit(o.host, o.previous, this.input.versionFor(o.host), 'rolled-back');
          } catch (err) {
            this.set(o.host, 'failed', `rolling back to ${o.previous} failed: ${describeError(err)}`);
            this.input.journal.host(o.host.name, 'failed', { error: o.error ?? '' });
          } finally {
            this.input.pool.release(o.host);
          }
        }),
      ),
    );
    return targets.length;
  }

  private fail(host: Host, rawError: string, code: string, hint?: string): void {
    const error = this.redact(rawError);
    this.set(host, 'failed', error, code);
    const failed = this.outcomes.get(host.name);
    if (failed && hint !== undefined) failed.hint = this.redact(hint);
    this.input.journal.host(host.name, 'failed', { error, code });
    const breach = this.budget.fail(host.dc);
    if (breach && this.haltReason === undefined) {
      this.breach = breach;
      this.halt(breachText(breach));
    }
    const outcome = this.outcomes.get(host.name);
    if (outcome?.version !== undefined) {
      void this.audit(host, this.input.versionFor(host), outcome?.previous, 'failed').catch(() => {});
    }
  }

  private halt(reason: string): void {
    this.haltReason ??= reason;
  }

  /** Nothing new starts: over budget (halt) or interrupted by the operator. */
  private get stopping(): boolean {
    return this.haltReason !== undefined || this.input.signal?.aborted === true;
  }

  private set(host: Host, state: HostState, error?: string, code?: string): void {
    const outcome = this.outcomes.get(host.name);
    if (!outcome) return;
    outcome.state = state;
    if (error !== undefined) outcome.error = error;
    if (code !== undefined) outcome.code = code;
    this.input.onState?.(host, state, error);
  }

  private async audit(
    host: Host,
    version: string,
    previous: string | undefined,
    result: string,
  ): Promise<void> {
    const connection = await this.input.pool.connection(host);
    await audit(connection, host, {
      at: new Date(),
      deploy: this.input.deployId,
      action: this.input.action,
      version,
      previous,
      result,
      by: this.input.owner,
    }).catch(() => {});
  }
}

function breachText(breach: BudgetBreach): string {
  return `failure budget exceeded in the ${breach.scope}: ${breach.failures} failed, ${breach.allowed} allowed`;
}

/**
 * How many hosts staging may run ahead of activation: what the connection cap leaves beside the
 * hosts activation keeps in flight (each data center running at once: its canaries or its
 * window), at least one. A small fleet stages all of it ahead, as before the cap.
 */
export function stagingLead(plan: Plan, fleet: Fleet): number {
  const running = [...plan.datacenters]
    .map((dc) => Math.max(dc.canaries.length, dc.window))
    .sort((a, b) => b - a)
    .slice(0, plan.dcParallel)
    .reduce((sum, n) => sum + n, 0);
  // Beside those: the fleet lock's host and a relay per data center, which stay open.
  return Math.max(1, fleet.ssh.max_open - running - plan.datacenters.length - 1);
}

/**
 * Hosts in staging order: each data center's own order kept, the data centers taken in turn, so
 * data centers that activate at the same time (`dc_parallel`) are all fed from the start instead
 * of the later ones waiting for the first one's whole staging.
 */
export function interleaved(hosts: readonly Host[]): Host[] {
  const byDc = new Map<string, Host[]>();
  for (const host of hosts) {
    const queue = byDc.get(host.dc);
    if (queue) queue.push(host);
    else byDc.set(host.dc, [host]);
  }
  const queues = [...byDc.values()];
  const out: Host[] = [];
  for (let at = 0; out.length < hosts.length; at++) {
    for (const queue of queues) {
      const host = queue[at];
      if (host) out.push(host);
    }
  }
  return out;
}
