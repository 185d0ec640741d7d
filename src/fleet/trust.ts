// `pier trust HOSTS`: record host keys in known_hosts on purpose (strict checking refuses
// unknown keys). Prints each fingerprint; a changed key is only replaced with --replace.
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describeError } from './errors.js';
import type { Host } from './inventory/inventory.js';
import { Limiter } from './limiter.js';
import type { ConnectionPool } from './ssh/connection-pool.js';
import {
  fingerprint,
  keyTypeOf,
  knownHostsLines,
  matchesHost,
  parseKnownHosts,
  verifyHostKey,
} from './ssh/known-hosts.js';
import { KnownHostsIndex } from './ssh/known-hosts-index.js';

export interface TrustResult {
  host: string;
  fingerprint: string | undefined;
  action: 'added' | 'already-trusted' | 'replaced' | 'changed-refused' | 'failed';
  detail: string | undefined;
}

export async function trustHosts(
  pool: ConnectionPool,
  hosts: readonly Host[],
  knownHostsFile: string,
  options: { replace: boolean; hash: boolean },
): Promise<TrustResult[]> {
  const limiter = new Limiter(64);
  const scanned = await Promise.all(
    hosts.map((host) =>
      limiter.run(async () => {
        try {
          return { host, key: await pool.scanHostKey(host), error: undefined };
        } catch (err) {
          return { host, key: undefined, error: describeError(err) };
        }
      }),
    ),
  );
  let text = await readFile(knownHostsFile, 'utf8').catch(() => '');
  // One index for the whole run, told about each line added, so 5,000 hosts do not mean 5,000
  // scans of the file.
  const allNames = scanned.flatMap(({ host }) => pool.namesOf(host));
  let known = new KnownHostsIndex(parseKnownHosts(text));
  await known.resolve(allNames);
  const results: TrustResult[] = [];
  for (const { host, key, error } of scanned) {
    if (!key) {
      results.push({ host: host.name, fingerprint: undefined, action: 'failed', detail: error });
      continue;
    }
    const names = pool.namesOf(host);
    const shown = `${keyTypeOf(key)} ${fingerprint(key)}`;
    const verdict = verifyHostKey(known, names, key);
    if (verdict.ok) {
      results.push({ host: host.name, fingerprint: shown, action: 'already-trusted', detail: undefined });
      continue;
    }
    if (verdict.reason === 'changed' && !options.replace) {
      results.push({
        host: host.name,
        fingerprint: shown,
        action: 'changed-refused',
        detail: `known_hosts has ${verdict.known.join(', ')}; pass --replace once you have checked the new fingerprint`,
      });
      continue;
    }
    if (verdict.reason === 'changed') {
      text = withoutHost(text, names);
      known = new KnownHostsIndex(parseKnownHosts(text));
      await known.resolve(allNames);
    }
    const lines = knownHostsLines(names, key, options.hash);
    text = `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${lines.join('\n')}\n`;
    // Hashed: one line per name, in order (so each needs no HMAC to place).
    if (options.hash) {
      for (const [i, line] of lines.entries()) known.add(parseKnownHosts(line), names[i]);
    } else known.add(parseKnownHosts(lines.join('\n')));
    results.push({
      host: host.name,
      fingerprint: shown,
      action: verdict.reason === 'changed' ? 'replaced' : 'added',
      detail: undefined,
    });
  }
  if (results.some((r) => r.action === 'added' || r.action === 'replaced')) {
    await mkdir(path.dirname(knownHostsFile), { recursive: true, mode: 0o700 });
    await writeFile(`${knownHostsFile}.tmp`, text, { mode: 0o600 });
    await rename(`${knownHostsFile}.tmp`, knownHostsFile);
    await chmod(knownHostsFile, 0o600);
  }
  return results;
}

function withoutHost(text: string, names: readonly string[]): string {
  return text
    .split('\n')
    .filter((line) => {
      const entry = parseKnownHosts(line)[0];
      return (
        !entry ||
        entry.marker !== undefined ||
        !names.some((name) => matchesHost(entry.patterns, name.toLowerCase()))
      );
    })
    .join('\n');
}
