// Benchmark (not a test): host key checks against a known_hosts of hashed lines, as `pier deploy`
// makes them, before and after the index. Before: each check scanned the file twice (the offered
// algorithms, then the verifier), one HMAC per hashed line per name of the host. After: one
// pass resolves the run's names, then a check is Map lookups.
//
//   npm run build && node dist/bench/known-hosts/run.js [--hosts 5000] [--shuffled]
//
// The file has one hashed line per name (inventory name and address), 2 per host, in inventory
// order as `ssh-keygen -H` and `pier trust --hash` leave it; --shuffled puts the lines in random
// order (the worst case for the pass). Writes bench/results/known-hosts-<time>.json.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type KnownKey,
  knownHostsLines,
  matchesHost,
  parseKnownHosts,
  preferredAlgorithms,
  verifyHostKey,
} from '../../src/fleet/ssh/known-hosts.js';
import { KnownHostsIndex } from '../../src/fleet/ssh/known-hosts-index.js';
import { repoRoot } from '../../test/helpers/paths.js';

const flag = process.argv.indexOf('--hosts');
const hostCount = flag === -1 ? 5000 : Number(process.argv[flag + 1]);
const shuffled = process.argv.includes('--shuffled');
const algorithms = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

function keyBlob(): Buffer {
  const type = Buffer.from('ssh-ed25519');
  return Buffer.concat([
    Buffer.from([0, 0, 0, type.length]),
    type,
    Buffer.from([0, 0, 0, 32]),
    randomBytes(32),
  ]);
}

const hosts = Array.from({ length: hostCount }, (_, i) => ({
  names: [
    `web${String(i).padStart(4, '0')}.ams.example.net`,
    `10.${20 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
  ],
  key: keyBlob(),
}));
const lines = hosts.flatMap((h) => knownHostsLines(h.names, h.key, true));
if (shuffled) {
  for (let i = lines.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [lines[i], lines[j]] = [lines[j] as string, lines[i] as string];
  }
}
const text = `${lines.join('\n')}\n`;

// Before: what the verifier and the algorithm list each did per host (a filter over every line).
const scan = (keys: readonly KnownKey[], names: readonly string[]) =>
  keys.filter(
    (entry) => entry.marker === undefined && names.some((name) => matchesHost(entry.patterns, name)),
  );
const keys = parseKnownHosts(text);
const sample = hosts.filter((_, i) => i % Math.max(1, Math.floor(hostCount / 20)) === 0).slice(0, 20);
let start = process.hrtime.bigint();
for (const h of sample) {
  scan(keys, h.names);
  if (!scan(keys, h.names).some((entry) => entry.key.equals(h.key))) throw new Error('scan missed a host');
}
const beforePerCheckMs = ms(start) / sample.length;

// After: parse + index, one pass (measuring the longest stretch the event loop waited), checks.
start = process.hrtime.bigint();
const index = new KnownHostsIndex(parseKnownHosts(text));
const indexMs = ms(start);
index.expect(hosts.flatMap((h) => h.names));
let longestBlockMs = 0;
let last = process.hrtime.bigint();
let passing = true;
const watch = (): void => {
  const now = process.hrtime.bigint();
  longestBlockMs = Math.max(longestBlockMs, Number(now - last) / 1e6);
  last = now;
  if (passing) setImmediate(watch);
};
last = process.hrtime.bigint();
setImmediate(watch);
start = process.hrtime.bigint();
await index.resolve(hosts[0]?.names ?? []);
const passMs = ms(start);
passing = false;
const passHmacs = index.stats.hmacs;
start = process.hrtime.bigint();
for (const h of hosts) {
  preferredAlgorithms(index, h.names, algorithms);
  if (!verifyHostKey(index, h.names, h.key).ok) throw new Error('index missed a host');
}
const checksMs = ms(start);
if (index.stats.hmacs !== passHmacs) throw new Error('a check computed HMACs after the pass');

const result = {
  date: new Date().toISOString(),
  cpus: os.cpus().length,
  hosts: hostCount,
  hashedLines: lines.length,
  order: shuffled ? 'shuffled' : 'inventory',
  before: {
    perCheckMs: Number(beforePerCheckMs.toFixed(2)),
    hmacsPerCheck: 2 * 2 * lines.length,
    totalMsEstimated: Math.round(beforePerCheckMs * hostCount),
    sampledHosts: sample.length,
  },
  after: {
    parseAndIndexMs: Math.round(indexMs),
    passMs: Math.round(passMs),
    passHmacs,
    longestEventLoopBlockMs: Number(longestBlockMs.toFixed(1)),
    perCheckUs: Number(((checksMs * 1000) / hostCount).toFixed(2)),
    checksTotalMs: Math.round(checksMs),
  },
};
console.log(
  `${hostCount} hosts, ${lines.length} hashed lines (${result.order} order), ${os.cpus().length} cores`,
);
console.log(
  `before: ${result.before.perCheckMs} ms per check (${result.before.hmacsPerCheck} HMACs, in the verifier), ` +
    `${(result.before.totalMsEstimated / 1000).toFixed(1)} s for all hosts (from ${sample.length} sampled)`,
);
console.log(
  `after: parse+index ${result.after.parseAndIndexMs} ms, one pass ${result.after.passMs} ms ` +
    `(${passHmacs} HMACs, event loop blocked at most ${result.after.longestEventLoopBlockMs} ms), ` +
    `${result.after.perCheckUs} µs per check, ${result.after.checksTotalMs} ms for all hosts`,
);
const out = path.join(repoRoot, 'bench', 'results', `known-hosts-${result.date.replace(/[:.]/g, '-')}.json`);
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
console.log(`written: ${path.relative(repoRoot, out)}`);
