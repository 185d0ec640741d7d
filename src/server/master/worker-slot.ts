// The master's record of one worker process: which slot it fills, where it is in its life, and
// what it last reported.
import type { ChildProcess } from 'node:child_process';
import type { WorkerCounters } from '../ipc.js';

export type WorkerState = 'booting' | 'ready' | 'stopping';

export interface WorkerRecord {
  /** Slot 1..processes; a slot has one serving worker, plus its replacement while one boots. */
  slot: number;
  /** Order of spawning, over all slots: of two ready workers in a slot, the later one serves. */
  spawned: number;
  child: ChildProcess;
  pid: number;
  state: WorkerState;
  startedAt: number;
  lastPong: number;
  counters: WorkerCounters;
  /** Set when a replacement was asked for (recycle, reload), so it is asked only once. */
  replacing: boolean;
  bootError: string | undefined;
  mercyTimer: NodeJS.Timeout | undefined;
}

export function newCounters(): WorkerCounters {
  return { requests: 0, rss: 0, statuses: [0, 0, 0, 0] };
}
