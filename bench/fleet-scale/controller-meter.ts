// Samples a running controller from outside, every `intervalMs`: its resident memory and peak
// (VmRSS, VmHWM), open file descriptors (/proc/<pid>/fd), CPU time (/proc/<pid>/stat, in clock
// ticks of 1/100 s) and the ESTABLISHED TCP connections to the sshd port, counted by `ss` with a
// kernel-side filter, in two dumps (see establishedTogether). Reading /proc/net/tcp with 10,000+
// sockets every 200 ms would cost the 2-core machine more than the figure is worth. During the
// deploy only the controller connects to the bench's sshd, so those connections are the
// controller's SSH connections.
import { readdirSync, readFileSync } from 'node:fs';
import { establishedTogether } from '../../test/helpers/net.js';

export interface Sample {
  /** ms since the meter started */
  t: number;
  rssKb: number;
  fds: number;
  sshConnections: number;
}

export interface MeterSummary {
  samples: number;
  peakRssKb: number;
  peakFds: number;
  peakSshConnections: number;
  /** User + system CPU of the controller at the last sample, in ms. */
  cpuMs: number;
  /** One sample every `everyMs` (the last of each slot), for a picture of the phases. */
  timeline: Sample[];
}

const tickMs = 10;

function statusKb(text: string, field: string): number {
  return Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

/** Busy and total CPU time of the whole machine so far (first line of /proc/stat), in ms. */
export function machineCpu(): { busyMs: number; totalMs: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1, 9);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields.map(Number) as number[];
  const busy = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
  return { busyMs: busy * tickMs, totalMs: (busy + (idle ?? 0) + (iowait ?? 0)) * tickMs };
}

/** The share of the machine's CPU that was busy between two `machineCpu()` readings, in %. */
export function busyPercent(
  before: ReturnType<typeof machineCpu>,
  after: ReturnType<typeof machineCpu>,
): number {
  const total = after.totalMs - before.totalMs;
  return total > 0 ? Math.round(((after.busyMs - before.busyMs) / total) * 100) : 0;
}

export class ControllerMeter {
  private readonly started = Date.now();
  private readonly all: Sample[] = [];
  private peakHwmKb = 0;
  private peakFds = 0;
  private peakConnections = 0;
  private cpuMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly pid: number,
    private readonly sshPort: number,
    private readonly intervalMs = 200,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (!this.busy) void this.sample();
    }, this.intervalMs);
    void this.sample();
  }

  private async sample(): Promise<void> {
    this.busy = true;
    try {
      let status: string;
      let fds: number;
      let stat: string;
      try {
        status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
        fds = readdirSync(`/proc/${this.pid}/fd`).length;
        stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      } catch {
        return; // the controller has exited
      }
      const connections = await establishedTogether([this.sshPort]);
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      this.cpuMs = (Number(fields[11]) + Number(fields[12])) * tickMs;
      this.peakHwmKb = Math.max(this.peakHwmKb, statusKb(status, 'VmHWM'));
      this.peakFds = Math.max(this.peakFds, fds);
      this.peakConnections = Math.max(this.peakConnections, connections);
      this.all.push({
        t: Date.now() - this.started,
        rssKb: statusKb(status, 'VmRSS'),
        fds,
        sshConnections: connections,
      });
    } finally {
      this.busy = false;
    }
  }

  stop(everyMs = 5000): MeterSummary {
    if (this.timer) clearInterval(this.timer);
    const timeline: Sample[] = [];
    for (const sample of this.all) {
      const slot = Math.floor(sample.t / everyMs);
      const last = timeline[timeline.length - 1];
      if (last && Math.floor(last.t / everyMs) === slot) timeline[timeline.length - 1] = sample;
      else timeline.push(sample);
    }
    return {
      samples: this.all.length,
      peakRssKb: this.peakHwmKb,
      peakFds: this.peakFds,
      peakSshConnections: this.peakConnections,
      cpuMs: this.cpuMs,
      timeline,
    };
  }
}
