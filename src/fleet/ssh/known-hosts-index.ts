// known_hosts indexed once per run, so a host key check is a few Map lookups instead of a scan of
// the whole file (it ran twice per host, inside ssh2's synchronous host verifier).
//
// Plain names go in a Map; the few wildcard or negated lines are matched per name, their patterns
// compiled once. Hashed lines (`|1|salt|hash`, a random salt each) cannot be indexed by name: the
// only way to learn whether a line is a name's is HMAC-SHA1(salt, name). So for the names a run
// will look up (`expect`), `resolve` assigns lines to names in one pass before the first
// handshake, in slices that yield to the event loop. Each line is tried against the expected
// names starting next to the one the previous line matched and moving outward: `ssh-keygen -H`
// and `pier trust` keep the inventory's order, so a line costs about one HMAC. A line that belongs
// to none of them costs one HMAC per name (OpenSSH pays that per lookup). A line belongs to at
// most one name (two names with one HMAC-SHA1 under one salt do not happen), so a resolved line
// is never tried again, and a name resolved is final: later lookups compute nothing.
import { createHmac } from 'node:crypto';
import type { KnownKey } from './known-hosts.js';

interface HashedLine {
  index: number;
  salt: Buffer;
  hash: Buffer;
  owner: string | undefined;
}

interface PatternedLine {
  index: number;
  patterns: Array<{ negated: boolean; test: RegExp }>;
}

/** HMACs per slice of a resolve pass (about 2 ms here) before yielding to the event loop. */
const sliceHmacs = 1024;

export class KnownHostsIndex {
  /** HMAC-SHA1 computations so far: what a lookup costs, for tests and benchmarks. */
  readonly stats = { hmacs: 0 };
  private readonly entries: KnownKey[] = [];
  private readonly plain = new Map<string, number[]>();
  private readonly patterned: PatternedLine[] = [];
  /** Hashed lines that may still belong to a name not resolved yet (compacted after each pass). */
  private open: HashedLine[] = [];
  private readonly hashedOf = new Map<string, number[]>();
  private readonly resolved = new Set<string>();
  private readonly pending = new Set<string>();
  private readonly revoked = new Set<string>();
  private readonly memo = new Map<string, readonly number[]>();
  private pass: Promise<void> | undefined;

  /** `keys` as parsed by `parseKnownHosts`, in file order (verdicts list fingerprints in it). */
  constructor(keys: readonly KnownKey[] = []) {
    this.add(keys);
  }

  /**
   * Appends entries (lines just written to the file). `owner`: the name a hashed line was
   * written for, so placing it needs no HMAC; without it, the line is tried against every name
   * already resolved.
   */
  add(keys: readonly KnownKey[], owner?: string): void {
    for (const entry of keys) {
      const index = this.entries.push(entry) - 1;
      if (entry.marker === 'revoked') this.revoked.add(entry.key.toString('base64'));
      // Only unmarked lines vouch for a host: @cert-authority keys sign host certificates,
      // which are not accepted here, and @revoked ones count whatever their patterns.
      if (entry.marker !== undefined) continue;
      if (entry.patterns.startsWith('|1|')) this.addHashed(index, entry.patterns, owner);
      else this.addPatterns(index, entry.patterns);
    }
  }

  /** Names (`name` or `[name]:port`) that lookups will ask for; `resolve` handles them in one pass. */
  expect(names: Iterable<string>): void {
    for (const name of names) {
      const lowered = name.toLowerCase();
      if (!this.resolved.has(lowered)) this.pending.add(lowered);
    }
  }

  /**
   * Makes sure lookups of `names` compute nothing: resolves them with every expected name not
   * resolved yet, yielding to the event loop between slices. Cheap once they are resolved.
   */
  async resolve(names: readonly string[]): Promise<void> {
    for (;;) {
      const missing = names.map((name) => name.toLowerCase()).filter((name) => !this.resolved.has(name));
      if (missing.length === 0) return;
      if (!this.pass) {
        for (const name of missing) this.pending.add(name);
        this.pass = this.runPass().finally(() => {
          this.pass = undefined;
        });
      }
      await this.pass;
    }
  }

  /** Unmarked entries recorded for any of `names`, in file order. Resolves unresolved names now. */
  entriesFor(names: readonly string[]): KnownKey[] {
    const indexes = new Set<number>();
    for (const name of names) for (const index of this.lookup(name.toLowerCase())) indexes.add(index);
    return [...indexes].sort((a, b) => a - b).map((index) => this.entries[index] as KnownKey);
  }

  /** Whether the key is marked @revoked anywhere in the file (for any host, as OpenSSH does). */
  isRevoked(key: Buffer): boolean {
    return this.revoked.size > 0 && this.revoked.has(key.toString('base64'));
  }

  private lookup(name: string): readonly number[] {
    const known = this.memo.get(name);
    if (known) return known;
    if (!this.resolved.has(name)) this.resolveNow(name);
    const found = [...(this.plain.get(name) ?? []), ...(this.hashedOf.get(name) ?? [])];
    for (const line of this.patterned) if (matchesPatterns(line.patterns, name)) found.push(line.index);
    this.memo.set(name, found);
    return found;
  }

  private addPatterns(index: number, field: string): void {
    const patterns = field.split(',');
    if (patterns.every((pattern) => !/[*?]/.test(pattern) && !pattern.startsWith('!'))) {
      for (const pattern of new Set(patterns.map((p) => p.toLowerCase()))) {
        const list = this.plain.get(pattern) ?? [];
        list.push(index);
        this.plain.set(pattern, list);
        this.memo.delete(pattern);
      }
      return;
    }
    this.patterned.push({
      index,
      patterns: patterns.map((pattern) => {
        const negated = pattern.startsWith('!');
        return { negated, test: wildcard(negated ? pattern.slice(1) : pattern) };
      }),
    });
    this.memo.clear();
  }

  private addHashed(index: number, field: string, owner: string | undefined): void {
    const [, , salt = '', hash = ''] = field.split('|');
    const line: HashedLine = {
      index,
      salt: Buffer.from(salt, 'base64'),
      hash: Buffer.from(hash, 'base64'),
      owner: undefined,
    };
    // Not a SHA-1 digest: no name can match it.
    if (line.hash.length !== 20) return;
    if (owner !== undefined) {
      this.own(line, owner.toLowerCase());
      return;
    }
    this.open.push(line);
    for (const name of this.resolved) {
      if (this.matches(line, name)) {
        this.own(line, name);
        break;
      }
    }
  }

  private own(line: HashedLine, name: string): void {
    line.owner = name;
    const list = this.hashedOf.get(name) ?? [];
    list.push(line.index);
    this.hashedOf.set(name, list);
    this.memo.delete(name);
  }

  private matches(line: HashedLine, name: string): boolean {
    this.stats.hmacs++;
    return createHmac('sha1', line.salt).update(name).digest().equals(line.hash);
  }

  /** One name, synchronously: every line nobody owns yet is tried once. */
  private resolveNow(name: string): void {
    for (const line of this.open)
      if (line.owner === undefined && this.matches(line, name)) this.own(line, name);
    this.resolved.add(name);
    this.pending.delete(name);
  }

  private async runPass(): Promise<void> {
    const names = [...this.pending];
    this.pending.clear();
    // Where the previous line's name sits in `names`: the next line is most likely the next
    // name's (one key per name, as ssh-keygen -H writes), then the same name's (ssh-keyscan's
    // several key types), then the neighbours outward.
    let cursor = -1;
    let sinceYield = 0;
    for (const line of this.open) {
      if (line.owner !== undefined) continue;
      for (let step = 0; step < 2 * names.length + 2; step++) {
        if (sinceYield >= sliceHmacs) {
          sinceYield = 0;
          await new Promise((resolve) => setImmediate(resolve));
          // A lookup meanwhile may have placed this line.
          if (line.owner !== undefined) break;
        }
        const at = cursor + offset(step);
        const name = names[at];
        // Out of range, or resolved meanwhile by a lookup (which tried this line already).
        if (name === undefined || this.resolved.has(name)) continue;
        sinceYield++;
        if (this.matches(line, name)) {
          this.own(line, name);
          cursor = at;
          break;
        }
      }
    }
    for (const name of names) {
      this.resolved.add(name);
      this.memo.delete(name);
    }
    this.open = this.open.filter((line) => line.owner === undefined);
  }
}

/** Step 0, 1, 2, 3, 4, 5, ... of the search: +1, 0, -1, +2, -2, +3, ... from the previous match. */
function offset(step: number): number {
  if (step <= 1) return 1 - step;
  return step % 2 === 0 ? -step / 2 : (step + 1) / 2;
}

/** OpenSSH's rule for a comma list: a negated pattern that matches wins, else any match. */
export function matchesPatterns(
  patterns: ReadonlyArray<{ negated: boolean; test: RegExp }>,
  name: string,
): boolean {
  let matched = false;
  for (const { negated, test } of patterns) {
    if (test.test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** A known_hosts pattern (`*` any run, `?` one character, case-insensitive) as an anchored RegExp. */
export function wildcard(pattern: string): RegExp {
  const body = pattern
    .toLowerCase()
    .replace(/[.+^${}()|\\]/g, '\\$&')
    .replace(/\[/g, '\\[')
    .replace(/\]/g, '\\]')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}
