// known_hosts, OpenSSH's format: `[marker] patterns keytype base64-key [comment]`. Patterns are
// comma lists with * ? and ! (negation), `[host]:port` for ports other than 22, or hashed as
// `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`. Parsing and matching do no I/O; checks go
// through a KnownHostsIndex (known-hosts-index.ts), built once per run.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { type KnownHostsIndex, matchesPatterns, wildcard } from './known-hosts-index.js';

export interface KnownKey {
  patterns: string;
  keyType: string;
  key: Buffer;
  marker: 'revoked' | 'cert-authority' | undefined;
}

export type HostKeyVerdict =
  | { ok: true }
  | {
      ok: false;
      reason: 'unknown' | 'changed' | 'revoked';
      fingerprint: string;
      keyType: string;
      known: string[];
    };

export function parseKnownHosts(text: string): KnownKey[] {
  const keys: KnownKey[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownKey['marker'];
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') {
      marker = fields[0] === '@revoked' ? 'revoked' : 'cert-authority';
      fields.shift();
    }
    const [patterns, keyType, base64] = fields;
    if (!patterns || !keyType || !base64) continue;
    keys.push({ patterns, keyType, key: Buffer.from(base64, 'base64'), marker });
  }
  return keys;
}

/** The name a host is recorded under: `name` on port 22, `[name]:port` otherwise. */
export function lookupName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The algorithm name inside an SSH public key blob (uint32 length, then the name). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  return key.subarray(4, 4 + key.readUInt32BE(0)).toString('latin1');
}

/** Whether one line's patterns cover `name` (lowercased). Scans: for one-off edits of the file. */
export function matchesHost(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt = '', hash = ''] = patterns.split('|');
    const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return digest === hash;
  }
  return matchesPatterns(
    patterns.split(',').map((pattern) => {
      const negated = pattern.startsWith('!');
      return { negated, test: wildcard(negated ? pattern.slice(1) : pattern) };
    }),
    name,
  );
}

/**
 * Checks a presented key (SSH wire blob) for a host known by any of `names` (its inventory name
 * and address, `[name]:port` off port 22). A key marked @revoked anywhere is refused; otherwise
 * any unmarked entry for the host with this key accepts it. OpenSSH's rules (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT").
 */
export function verifyHostKey(
  known: KnownHostsIndex,
  names: readonly string[],
  presented: Buffer,
): HostKeyVerdict {
  const forHost = known.entriesFor(names);
  const verdict = (reason: 'unknown' | 'changed' | 'revoked'): HostKeyVerdict => ({
    ok: false,
    reason,
    fingerprint: fingerprint(presented),
    keyType: keyTypeOf(presented),
    known: forHost.map((entry) => fingerprint(entry.key)),
  });
  if (known.isRevoked(presented)) return verdict('revoked');
  if (forHost.some((entry) => entry.key.equals(presented))) return { ok: true };
  return verdict(forHost.length === 0 ? 'unknown' : 'changed');
}

/** Host key algorithms to offer, the ones known for this host first, so the server shows that key. */
export function preferredAlgorithms(
  known: KnownHostsIndex,
  names: readonly string[],
  all: readonly string[],
): string[] {
  const types = known.entriesFor(names).map((entry) => entry.keyType);
  const wanted = new Set(
    types.flatMap((type) => (type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type])),
  );
  return [...all.filter((name) => wanted.has(name)), ...all.filter((name) => !wanted.has(name))];
}

/** A known_hosts line for `names`; hashed (one line per name) when asked, like `ssh-keygen -H`. */
export function knownHostsLines(names: readonly string[], key: Buffer, hashed: boolean): string[] {
  const blob = key.toString('base64');
  const type = keyTypeOf(key);
  if (!hashed) return [`${names.join(',')} ${type} ${blob}`];
  return names.map((name) => {
    const salt = randomBytes(20);
    const hash = createHmac('sha1', salt).update(name.toLowerCase()).digest('base64');
    return `|1|${salt.toString('base64')}|${hash} ${type} ${blob}`;
  });
}
