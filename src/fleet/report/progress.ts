// Live progress for a rollout: per data center, how many hosts are in each phase. On a TTY one
// line per data center is redrawn in place; otherwise a data center's line is printed when its
// counts change (at most once a second), so 5,000 hosts never mean 5,000 interleaved lines.
import type { Host } from '../inventory/inventory.js';
import { type HostState, hostStates } from '../rollout/host-state.js';
import { quietLimitMs } from './phase-progress.js';

export interface ProgressSink {
  write(text: string): void;
}

/** Every state but `pending`, in lifecycle order. */
const shown = hostStates.filter((state) => state !== 'pending');
const finished = new Set<HostState>(['healthy', 'failed', 'rolled-back', 'skipped', 'unchanged']);

export class Progress {
  private readonly counts = new Map<string, Map<HostState, number>>();
  private readonly stateOf = new Map<string, HostState>();
  private readonly totals = new Map<string, number>();
  private readonly lastLine = new Map<string, string>();
  private readonly lastPrinted = new Map<string, number>();
  private drawnLines = 0;
  private timer: NodeJS.Timeout | undefined;
  private failuresShown = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private lastOutput = 0;

  constructor(
    private readonly out: ProgressSink,
    private readonly tty: boolean,
    datacenters: ReadonlyArray<{ name: string; hosts: readonly Host[] }>,
    private readonly now: () => number = Date.now,
  ) {
    for (const dc of datacenters) {
      this.totals.set(dc.name, dc.hosts.length);
      this.counts.set(dc.name, new Map([['pending', dc.hosts.length]]));
      for (const host of dc.hosts) this.stateOf.set(host.name, 'pending');
    }
  }

  /**
   * The heartbeat: a TTY is redrawn every second; otherwise the unfinished data centers' lines
   * are printed again after `quietLimitMs` without a change, so slow phases (a long health
   * gate, a big upload) never look hung.
   */
  start(): this {
    this.heartbeat = setInterval(() => {
      if (this.tty) this.redraw();
      else if (this.now() - this.lastOutput >= quietLimitMs) this.printUnfinished();
    }, 1000);
    this.heartbeat.unref();
    return this;
  }

  update(host: Host, state: HostState, error?: string): void {
    const counts = this.counts.get(host.dc);
    const before = this.stateOf.get(host.name);
    if (!counts || before === undefined || before === state) return;
    counts.set(before, (counts.get(before) ?? 1) - 1);
    counts.set(state, (counts.get(state) ?? 0) + 1);
    this.stateOf.set(host.name, state);
    if (state === 'failed' && !this.tty && this.failuresShown < 10) {
      this.failuresShown++;
      this.lastOutput = this.now();
      this.out.write(`  ${host.name} failed: ${error ?? 'unknown error'}\n`);
    }
    if (this.tty) this.schedule();
    else this.printChanged(false);
  }

  /** Final lines (plain) or the last redraw (TTY). */
  finish(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.tty) this.redraw();
    else this.printChanged(true);
  }

  line(dc: string): string {
    const counts = this.counts.get(dc) ?? new Map<HostState, number>();
    const total = this.totals.get(dc) ?? 0;
    const done = [...finished].reduce((sum, state) => sum + (counts.get(state) ?? 0), 0);
    const width = 20;
    const filled = total === 0 ? width : Math.round((done / total) * width);
    const parts = shown
      .filter((state) => (counts.get(state) ?? 0) > 0)
      .map((state) => `${counts.get(state)} ${state}`);
    return `${dc.padEnd(8)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}  ${parts.join(', ')}`.trimEnd();
  }

  private printChanged(force: boolean): void {
    for (const dc of this.totals.keys()) {
      const line = this.line(dc);
      if (line === this.lastLine.get(dc)) continue;
      const at = this.now();
      if (!force && at - (this.lastPrinted.get(dc) ?? 0) < 1000 && !this.allDone(dc)) continue;
      this.lastLine.set(dc, line);
      this.lastPrinted.set(dc, at);
      this.lastOutput = at;
      this.out.write(`${line}\n`);
    }
  }

  private printUnfinished(): void {
    const at = this.now();
    for (const dc of this.totals.keys()) {
      if (this.allDone(dc)) continue;
      const line = this.line(dc);
      this.lastLine.set(dc, line);
      this.lastPrinted.set(dc, at);
      this.lastOutput = at;
      this.out.write(`${line}\n`);
    }
  }

  private allDone(dc: string): boolean {
    const counts = this.counts.get(dc);
    const done = [...finished].reduce((sum, state) => sum + (counts?.get(state) ?? 0), 0);
    return done === this.totals.get(dc);
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.redraw();
    }, 100);
  }

  private redraw(): void {
    const lines = [...this.totals.keys()].map((dc) => this.line(dc));
    const up = this.drawnLines > 0 ? `\x1b[${this.drawnLines}A` : '';
    this.out.write(`${up}${lines.map((line) => `\x1b[2K${line}\n`).join('')}`);
    this.drawnLines = lines.length;
  }
}
