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
  const results: TrustResult[] = [];
  for (const { host, key, error } of scanned) {
    if (!key) {
      results.push({ host: host.name, fingerprint: undefined, action: 'failed', detail: error });
      continue;
    }
    const names = pool.namesOf(host);
    const shown = `${keyTypeOf(key)} ${fingerprint(key)}`;
    const verdict = verifyHostKey(parseKnownHosts(text), names, key);
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
    if (verdict.reason === 'changed') text = withoutHost(text, names);
    text = `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${knownHostsLines(names, key, options.hash).join('\n')}\n`;
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
