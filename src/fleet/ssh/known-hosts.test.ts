import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  fingerprint,
  keyTypeOf,
  knownHostsLines,
  lookupName,
  matchesHost,
  parseKnownHosts,
  preferredAlgorithms,
  verifyHostKey,
} from './known-hosts.js';
import { KnownHostsIndex } from './known-hosts-index.js';

const indexOf = (text: string) => new KnownHostsIndex(parseKnownHosts(text));

function keyPair(dir: string, name: string): { blob: Buffer; line: string; openSshFingerprint: string } {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  const line = readFileSync(`${file}.pub`, 'utf8').trim();
  const openSshFingerprint =
    execFileSync('ssh-keygen', ['-l', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1] ?? '';
  return { blob: Buffer.from(line.split(' ')[1] ?? '', 'base64'), line, openSshFingerprint };
}

test('keys match by plain name, [host]:port, wildcard and negation', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pier-kh-'));
  try {
    const a = keyPair(dir, 'a');
    const b = keyPair(dir, 'b');
    const known = indexOf(
      [
        '# comment',
        `web1.example.net,10.0.0.1 ${a.line.split(' ').slice(0, 2).join(' ')}`,
        `[web2.example.net]:2222 ${a.line.split(' ').slice(0, 2).join(' ')}`,
        `*.ams.example.net,!bad.ams.example.net ${b.line.split(' ').slice(0, 2).join(' ')}`,
      ].join('\n'),
    );
    assert.deepEqual(verifyHostKey(known, ['web1.example.net'], a.blob), { ok: true });
    assert.deepEqual(verifyHostKey(known, ['x', '10.0.0.1'], a.blob), { ok: true });
    assert.deepEqual(verifyHostKey(known, [lookupName('web2.example.net', 2222)], a.blob), { ok: true });
    assert.deepEqual(verifyHostKey(known, ['w7.AMS.example.net'], b.blob), { ok: true });
    const changed = verifyHostKey(known, ['web1.example.net'], b.blob);
    assert.equal(changed.ok, false);
    assert.equal(!changed.ok && changed.reason, 'changed');
    assert.equal(!changed.ok && changed.fingerprint, b.openSshFingerprint);
    assert.deepEqual(!changed.ok && changed.known, [a.openSshFingerprint]);
    const unknown = verifyHostKey(known, ['bad.ams.example.net'], b.blob);
    assert.equal(!unknown.ok && unknown.reason, 'unknown');
    assert.equal(!unknown.ok && unknown.keyType, 'ssh-ed25519');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hashed entries written by ssh-keygen -H are matched, and ours by ssh-keygen -F', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pier-kh-'));
  try {
    const a = keyPair(dir, 'a');
    const file = path.join(dir, 'known_hosts');
    writeFileSync(file, `web1.example.net ${a.line.split(' ').slice(0, 2).join(' ')}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^\|1\|/);
    assert.deepEqual(verifyHostKey(indexOf(text), ['web1.example.net'], a.blob), { ok: true });
    assert.equal(matchesHost(parseKnownHosts(text)[0]?.patterns ?? '', 'web2.example.net'), false);

    const ours = path.join(dir, 'ours');
    writeFileSync(ours, `${knownHostsLines(['[h.example]:2200'], a.blob, true).join('\n')}\n`);
    const found = execFileSync('ssh-keygen', ['-F', '[h.example]:2200', '-f', ours], { encoding: 'utf8' });
    assert.match(found, /ssh-ed25519/);
    assert.equal(fingerprint(a.blob), a.openSshFingerprint);
    assert.equal(keyTypeOf(a.blob), 'ssh-ed25519');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('revoked keys are refused; known algorithms are offered first', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pier-kh-'));
  try {
    const a = keyPair(dir, 'a');
    const pub = a.line.split(' ').slice(0, 2).join(' ');
    const known = indexOf(`h1 ${pub}\n@revoked * ${pub}\n`);
    const verdict = verifyHostKey(known, ['h1'], a.blob);
    assert.equal(!verdict.ok && verdict.reason, 'revoked');
    const rsa = indexOf(`h1 ssh-rsa ${Buffer.from('x').toString('base64')}\n`);
    assert.deepEqual(preferredAlgorithms(rsa, ['h1'], ['ssh-ed25519', 'rsa-sha2-512', 'ssh-rsa']), [
      'rsa-sha2-512',
      'ssh-rsa',
      'ssh-ed25519',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
