// Progress of a phase that touches every host once (lock, unlock, setup): a count, hosts per
// second and an ETA. On a TTY one line redrawn every second; otherwise a line every few seconds,
// printed even when nothing moved, so a working run never looks like a hung one.
import type { ProgressSink } from './progress.js';

/** Longest a non-TTY run stays silent while a phase is under way, in milliseconds. */
export const quietLimitMs = 2000;

export class PhaseProgress {
  private done = 0;
  private failed = 0;
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private drawn = false;

  constructor(
    private readonly out: ProgressSink,
    private readonly tty: boolean,
    private readonly phase: string,
    private readonly total: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts the clock and the periodic line. */
  start(): this {
    this.startedAt = this.now();
    this.timer = setInterval(() => this.print(), this.tty ? 1000 : quietLimitMs);
    this.timer.unref();
    return this;
  }

  /** One host finished this phase (`failed`: it could not be done there). */
  tick(failed = false): void {
    this.done++;
    if (failed) this.failed++;
  }

  /** The closing line, with the phase's duration. */
  finish(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const seconds = (this.now() - this.startedAt) / 1000;
    const line = `${this.phase}: ${this.done}/${this.total} hosts${this.failed ? ` (${this.failed} failed)` : ''} in ${seconds.toFixed(1)} s`;
    this.out.write(this.tty && this.drawn ? `\r\x1b[2K${line}\n` : `${line}\n`);
  }

  /** `lock: 1200/5000 hosts (3 failed), 240 hosts/s, about 16 s left` */
  line(): string {
    const seconds = Math.max(0.001, (this.now() - this.startedAt) / 1000);
    const rate = this.done / seconds;
    const left = rate > 0 ? Math.ceil((this.total - this.done) / rate) : undefined;
    return [
      `${this.phase}: ${this.done}/${this.total} hosts${this.failed ? ` (${this.failed} failed)` : ''}`,
      `${rate.toFixed(rate < 10 ? 1 : 0)} hosts/s`,
      left === undefined ? 'starting' : `about ${left} s left`,
    ].join(', ');
  }

  private print(): void {
    if (this.done >= this.total) return;
    if (this.tty) {
      this.out.write(`\r\x1b[2K${this.line()}`);
      this.drawn = true;
    } else this.out.write(`${this.line()}\n`);
  }
}

/** Runs a whole-fleet phase with its progress shown; `tick` counts a host done (or failed). */
export async function inPhase<T>(
  out: ProgressSink,
  tty: boolean,
  phase: string,
  total: number,
  run: (tick: (failed: boolean) => void) => Promise<T>,
): Promise<T> {
  if (total === 0) return run(() => {});
  const progress = new PhaseProgress(out, tty, phase, total).start();
  try {
    return await run((failed) => progress.tick(failed));
  } finally {
    progress.finish();
  }
}
