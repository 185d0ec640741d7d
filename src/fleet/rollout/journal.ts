// The deploy journal: one JSON object per line in .pier/deploys/<id>.jsonl, written as things
// happen (synchronously: a controller killed mid-way loses at most the line being written), and
// replayed by `pier deploy --resume` to continue where the dead controller stopped.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { HostState } from './host-state.js';

export type JournalRecord =
  | {
      type: 'start';
      id: string;
      action: 'deploy' | 'rollback';
      version: string;
      sha256: string;
      hosts: string[];
      owner: string;
      at: string;
      /** A rollback that undoes an unfinished deploy: that deploy's id (rollout/undo.ts). */
      undoes?: string;
      /** A plain rollback that carries on with an unfinished one: that rollback's id (undo.ts). */
      continues?: string;
      /**
       * The inventory file the run used (FleetSession.fleetFile). Absent in journals written
       * before it was recorded: those count as any file's.
       */
      fleet?: string;
    }
  | {
      type: 'host';
      host: string;
      state: HostState;
      at: string;
      previous?: string;
      error?: string;
      code?: string;
    }
  | { type: 'halt'; reason: string; at: string }
  /** The deploy's `once` hooks succeeded on `host`: --resume does not run them again. */
  | { type: 'once'; host: string; at: string }
  | { type: 'end'; outcome: string; at: string };

export interface HostRecord {
  state: HostState;
  /** What `current` pointed at before this deploy switched it (the rollback target). */
  previous: string | undefined;
  error: string | undefined;
  code: string | undefined;
}

export interface Replay {
  start: Extract<JournalRecord, { type: 'start' }>;
  hosts: Map<string, HostRecord>;
  halt: string | undefined;
  end: string | undefined;
  /** The host the `once` hooks ran on, when they finished. */
  once: string | undefined;
}

/** Whether `replay` is a run of the inventory `fleetFile` (see the start record's `fleet`). */
export function ranWith(replay: Replay, fleetFile: string): boolean {
  return replay.start.fleet === undefined || replay.start.fleet === fleetFile;
}

/** Rebuilds the per-host state from records; a torn last line (killed mid-write) is ignored. */
export function replayJournal(text: string): Replay | undefined {
  let start: Replay['start'] | undefined;
  const hosts = new Map<string, HostRecord>();
  let halt: string | undefined;
  let end: string | undefined;
  let once: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let record: JournalRecord;
    try {
      record = JSON.parse(line) as JournalRecord;
    } catch {
      continue;
    }
    if (record.type === 'start') start = record;
    else if (record.type === 'halt') halt = record.reason;
    else if (record.type === 'end') end = record.outcome;
    else if (record.type === 'once') once = record.host;
    else if (record.type === 'host') {
      const before = hosts.get(record.host);
      hosts.set(record.host, {
        state: record.state,
        // `previous` is written once, when the host is first switched; later records keep it.
        previous: record.previous ?? before?.previous,
        error: record.error,
        code: record.code,
      });
    }
  }
  return start ? { start, hosts, halt, end, once } : undefined;
}

export class Journal {
  private readonly fd: number;
  constructor(readonly file: string) {
    this.fd = openSync(file, 'a');
  }

  write(record: JournalRecord): void {
    writeSync(this.fd, `${JSON.stringify(record)}\n`);
  }

  host(
    host: string,
    state: HostState,
    extra: { previous?: string; error?: string; code?: string } = {},
  ): void {
    this.write({ type: 'host', host, state, at: new Date().toISOString(), ...extra });
  }

  close(): void {
    closeSync(this.fd);
  }

  static read(file: string): Replay | undefined {
    return replayJournal(readFileSync(file, 'utf8'));
  }
}
