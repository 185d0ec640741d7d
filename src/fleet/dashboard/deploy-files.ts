// The runs kept in .pier/deploys/: each <id>.jsonl journal, and the <id>.json report written when
// the run ended. Read again only when a file there changed (its size or mtime), so a page view or
// a live update costs a few stat calls while nothing moves.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { DeployReport } from '../report/deploy-report.js';
import { replayJournal } from '../rollout/journal.js';
import { type DeploySummary, summaryOfJournal, summaryOfReport } from './deploy-view.js';

export interface DeployRun extends DeploySummary {
  /** When its journal or report last changed (ISO 8601). */
  touchedAt: string;
}

export interface DeployHistory {
  /** The newest runs first (by their files' last change), at most `limit`. */
  runs: DeployRun[];
  /** The run without an end that changed last: the deploy under way (or one interrupted). */
  live: DeployRun | undefined;
  /** Changes whenever a file of those runs changes. */
  fingerprint: string;
}

interface Entry {
  id: string;
  journal: { size: number; mtimeMs: number } | undefined;
  report: { size: number; mtimeMs: number } | undefined;
}

export class DeployFiles {
  private cached: DeployHistory | undefined;

  /**
   * `dir`: .pier/deploys of the repository (may not exist yet). `dcOf`: a host's data center
   * (journals name hosts only). `limit`: how many recent runs are read.
   */
  constructor(
    readonly dir: string,
    private readonly dcOf: (name: string) => string | undefined,
    private readonly limit = 20,
  ) {}

  /** The recent runs, read again only when the fingerprint changed. */
  async read(): Promise<DeployHistory> {
    const entries = await this.entries();
    const fingerprint = entries
      .map((e) => `${e.id}:${e.journal?.size}:${e.journal?.mtimeMs}:${e.report?.size}:${e.report?.mtimeMs}`)
      .join('|');
    if (this.cached?.fingerprint === fingerprint) return this.cached;
    const runs: DeployRun[] = [];
    for (const entry of entries) {
      const run = await this.load(entry);
      if (run) runs.push(run);
    }
    const live = runs.find((run) => run.outcome === undefined);
    this.cached = { runs, live, fingerprint };
    return this.cached;
  }

  /** One run by id (any age), or undefined. */
  async run(id: string): Promise<DeployRun | undefined> {
    if (!/^[A-Za-z0-9._+-]+$/.test(id)) return undefined;
    const [journal, report] = await Promise.all([this.stat(`${id}.jsonl`), this.stat(`${id}.json`)]);
    return this.load({ id, journal, report });
  }

  private async entries(): Promise<Entry[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const ids = new Set(
      names.filter((n) => n.endsWith('.jsonl') || n.endsWith('.json')).map((n) => n.replace(/\.jsonl?$/, '')),
    );
    const entries = await Promise.all(
      [...ids].map(async (id) => ({
        id,
        journal: await this.stat(`${id}.jsonl`),
        report: await this.stat(`${id}.json`),
      })),
    );
    const touched = (e: Entry) => Math.max(e.journal?.mtimeMs ?? 0, e.report?.mtimeMs ?? 0);
    return entries.sort((a, b) => touched(b) - touched(a) || b.id.localeCompare(a.id)).slice(0, this.limit);
  }

  private async stat(name: string): Promise<Entry['journal']> {
    const info = await stat(path.join(this.dir, name)).catch(() => undefined);
    return info?.isFile() ? { size: info.size, mtimeMs: info.mtimeMs } : undefined;
  }

  private async load(entry: Entry): Promise<DeployRun | undefined> {
    const touchedAt = new Date(
      Math.max(entry.journal?.mtimeMs ?? 0, entry.report?.mtimeMs ?? 0),
    ).toISOString();
    if (entry.report) {
      // A report cut short (the controller died while writing it) falls back to the journal.
      const report = await readFile(path.join(this.dir, `${entry.id}.json`), 'utf8')
        .then((text) => JSON.parse(text) as DeployReport)
        .catch(() => undefined);
      if (report && Array.isArray(report.hosts)) return { ...summaryOfReport(report), touchedAt };
    }
    if (!entry.journal) return undefined;
    const text = await readFile(path.join(this.dir, `${entry.id}.jsonl`), 'utf8').catch(() => '');
    const replay = replayJournal(text);
    return replay ? { ...summaryOfJournal(replay, this.dcOf), touchedAt } : undefined;
  }
}
