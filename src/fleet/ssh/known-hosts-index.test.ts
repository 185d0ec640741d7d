import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  type KnownKey,
  knownHostsLines,
  lookupName,
  matchesHost,
  parseKnownHosts,
  preferredAlgorithms,
  verifyHostKey,
} from './known-hosts.js';
import { KnownHostsIndex } from './known-hosts-index.js';

/** An ed25519-shaped public key blob (type name, then 32 random bytes). */
function blob(): Buffer {
  const type = Buffer.from('ssh-ed25519');
  const length = (n: number) => Buffer.from([0, 0, 0, n]);
  return Buffer.concat([length(type.length), type, length(32), randomBytes(32)]);
}

const line = (patterns: string, key: Buffer, marker = '') =>
  `${marker}${patterns} ssh-ed25519 ${key.toString('base64')}`;

/** What the file says about a name, by the definition: every unmarked line, scanned. */
const byScan = (keys: readonly KnownKey[], name: string) =>
  keys.filter((entry) => entry.marker === undefined && matchesHost(entry.patterns, name.toLowerCase()));

interface Host {
  name: string;
  address: string;
  key: Buffer;
}

function hosts(count: number): Host[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `web${i}.ams.example.net`,
    address: `10.1.${i >> 8}.${i & 255}`,
    key: blob(),
  }));
}

/** `ssh-keygen -H`-style: one hashed line per name, name then address, in inventory order. */
const hashedFile = (fleet: readonly Host[]) =>
  fleet.flatMap((h) => knownHostsLines([h.name, h.address], h.key, true)).join('\n');

test('every kind of entry is found through the index as by a scan of the file', () => {
  const [a, b, c, d] = [blob(), blob(), blob(), blob()];
  const keys = parseKnownHosts(
    [
      line('web1.example.net,10.0.0.1', a),
      ...knownHostsLines(['web2.example.net', '10.0.0.2'], b, true),
      ...knownHostsLines(['[web3.example.net]:2222'], c, true),
      line('*.ams.example.net,!bad.ams.example.net', d),
      line('10.0.0.?', c),
      line('WEB1.example.net', b),
      `@cert-authority ${line('*.example.net', d)}`,
      `@revoked ${line('*', c)}`,
      `|1|bm90LWEtc2hh|bm90LWEtc2hh ssh-ed25519 ${a.toString('base64')}`,
    ].join('\n'),
  );
  const names = [
    'web1.example.net',
    '10.0.0.1',
    'web2.example.net',
    'Web2.Example.NET',
    '10.0.0.2',
    lookupName('web3.example.net', 2222),
    'web3.example.net',
    'w7.ams.example.net',
    'bad.ams.example.net',
    '10.0.0.10',
    'elsewhere.example.org',
  ];
  const index = new KnownHostsIndex(keys);
  for (const name of names) assert.deepEqual(index.entriesFor([name]), byScan(keys, name), name);
  assert.deepEqual(
    index.entriesFor(['web1.example.net', '10.0.0.1']).map((entry) => entry.patterns),
    ['web1.example.net,10.0.0.1', '10.0.0.?', 'WEB1.example.net'],
    'both names of a host, each line once, in file order',
  );
  assert.deepEqual(verifyHostKey(index, ['web2.example.net', '10.9.9.9'], b), { ok: true });
  assert.deepEqual(verifyHostKey(index, ['x', '10.0.0.2'], b), { ok: true });
  assert.deepEqual(verifyHostKey(index, ['w7.ams.example.net'], d), { ok: true });
  const changed = verifyHostKey(index, ['web2.example.net'], a);
  assert.equal(!changed.ok && changed.reason, 'changed');
  assert.equal(!changed.ok && changed.known.length, 1);
  const unknown = verifyHostKey(index, ['bad.ams.example.net'], d);
  assert.equal(
    !unknown.ok && unknown.reason,
    'unknown',
    'negated, and a @cert-authority key vouches for nobody',
  );
  const revoked = verifyHostKey(index, [lookupName('web3.example.net', 2222)], c);
  assert.equal(!revoked.ok && revoked.reason, 'revoked', '@revoked * wins over the host’s own line');
});

test('after one pass over the expected names, checks compute no HMAC at all', async () => {
  const fleet = hosts(500);
  const index = new KnownHostsIndex(parseKnownHosts(hashedFile(fleet)));
  index.expect(fleet.flatMap((h) => [h.name, h.address]));
  await index.resolve([fleet[0]?.name as string]);
  // 1,000 hashed lines in the inventory's order: about one HMAC per line, not one per line per name.
  assert.ok(index.stats.hmacs <= 1100, `${index.stats.hmacs} HMACs to resolve 1,000 names`);
  const afterSetUp = index.stats.hmacs;
  for (const h of fleet) {
    const names = [h.name, h.address];
    assert.deepEqual(verifyHostKey(index, names, h.key), { ok: true });
    preferredAlgorithms(index, names, ['ssh-ed25519', 'ssh-rsa']);
  }
  assert.equal(index.stats.hmacs, afterSetUp, 'no check rescans the file');

  // A name nobody expected: tried once against the lines no name owns (none here), then kept.
  const stray = verifyHostKey(index, ['db1.example.net'], blob());
  assert.equal(!stray.ok && stray.reason, 'unknown');
  verifyHostKey(index, ['db1.example.net'], blob());
  assert.equal(index.stats.hmacs, afterSetUp);
});

test('a shuffled file with foreign lines gives the same answers, within one HMAC per line and name', async () => {
  const fleet = hosts(60);
  const foreign = hosts(20).map((h) => ({ ...h, name: `other${h.name}` }));
  const lines = hashedFile([...fleet, ...foreign]).split('\n');
  for (let i = lines.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [lines[i], lines[j]] = [lines[j] as string, lines[i] as string];
  }
  const keys = parseKnownHosts(lines.join('\n'));
  const index = new KnownHostsIndex(keys);
  const names = fleet.flatMap((h) => [h.name, h.address]);
  index.expect(names);
  await index.resolve(names);
  assert.ok(index.stats.hmacs <= lines.length * names.length);
  const afterSetUp = index.stats.hmacs;
  for (const h of fleet) {
    assert.deepEqual(verifyHostKey(index, [h.name, h.address], h.key), { ok: true });
    assert.deepEqual(index.entriesFor([h.address]), byScan(keys, h.address));
  }
  assert.equal(index.stats.hmacs, afterSetUp);
});

test('a pass yields to the event loop between slices', async () => {
  const fleet = hosts(2000);
  const index = new KnownHostsIndex(parseKnownHosts(hashedFile(fleet)));
  index.expect(fleet.flatMap((h) => [h.name, h.address]));
  let done = false;
  let ranDuring = 0;
  const tick = (): void => {
    if (done) return;
    ranDuring++;
    setImmediate(tick);
  };
  setImmediate(tick);
  await index.resolve([fleet[0]?.name as string]);
  done = true;
  assert.ok(ranDuring >= 2, `other work ran ${ranDuring} times during a pass of ${index.stats.hmacs} HMACs`);
});

test('lines added after set-up are found, placed without an HMAC when their name is given', async () => {
  const [h] = hosts(1) as [Host];
  const index = new KnownHostsIndex();
  await index.resolve([h.name, h.address]);
  const before = index.stats.hmacs;
  const [forName, forAddress] = knownHostsLines([h.name, h.address], h.key, true);
  index.add(parseKnownHosts(forName as string), h.name);
  assert.deepEqual(verifyHostKey(index, [h.name], h.key), { ok: true });
  assert.equal(index.stats.hmacs, before);
  // Without its name, a hashed line is tried against the names already resolved.
  index.add(parseKnownHosts(forAddress as string));
  assert.deepEqual(verifyHostKey(index, [h.address], h.key), { ok: true });
  index.add(parseKnownHosts(line(h.address, blob())));
  const changed = verifyHostKey(index, [h.address], blob());
  assert.equal(!changed.ok && changed.known.length, 2);
});
