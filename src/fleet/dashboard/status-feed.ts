// The fleet's status for the dashboard, gathered over SSH (status.ts `fleetStatus`, as `pier
// status` does) at an interval and when asked, never per page view: a page load costs nothing on
// the hosts. One gathering at a time; asks made while one runs share it.
import type { FleetStatus } from '../status.js';

export interface StatusSnapshot {
  status: FleetStatus;
  /** When the gathering finished (ISO 8601). */
  gatheredAt: string;
  /** How long it took, in milliseconds. */
  tookMs: number;
}

export class StatusFeed {
  private latest: StatusSnapshot | undefined;
  private running: Promise<StatusSnapshot | undefined> | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private lastStart = 0;
  /** Counts finished gatherings: the live page reloads the grid when it moves. */
  generation = 0;

  /**
   * `gather` probes the hosts (it must not throw for one host's failure: fleetStatus reports a
   * host it cannot reach as unreachable). `intervalMs`: time between the end of one gathering and
   * the start of the next. `minGapMs`: an ask sooner than this after the last start is served
   * the current snapshot, so a page cannot make the hosts busy.
   */
  constructor(
    private readonly gather: () => Promise<FleetStatus>,
    private readonly intervalMs: number,
    private readonly minGapMs = 5000,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  get snapshot(): StatusSnapshot | undefined {
    return this.latest;
  }

  get refreshing(): boolean {
    return this.running !== undefined;
  }

  /** Gathers now, then every `intervalMs` until `stop`. */
  start(): void {
    void this.refresh(true);
  }

  /** A gathering: the one under way, or a new one unless the last started under `minGapMs` ago. */
  refresh(force = false): Promise<StatusSnapshot | undefined> {
    if (this.running) return this.running;
    if (!force && this.latest && Date.now() - this.lastStart < this.minGapMs)
      return Promise.resolve(this.latest);
    if (this.timer) clearTimeout(this.timer);
    this.lastStart = Date.now();
    const started = this.lastStart;
    this.running = this.gather()
      .then((status) => {
        this.latest = { status, gatheredAt: new Date().toISOString(), tookMs: Date.now() - started };
        this.generation++;
        return this.latest;
      })
      .catch((err: unknown) => {
        this.onError(err);
        return this.latest;
      })
      .finally(() => {
        this.running = undefined;
        if (!this.stopped) {
          this.timer = setTimeout(() => void this.refresh(true), this.intervalMs);
          this.timer.unref();
        }
      });
    return this.running;
  }

  /** No more gatherings; resolves when the one under way (if any) ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
