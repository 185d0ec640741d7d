// The host Node's runtime line, cached under the binary's identity: run by the real /bin/sh with
// a stand-in `node` first in PATH that counts how often it is started.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { render } from './shell.js';
import { cachedHostRuntime } from './stage.js';

/** A `node` that answers `--version` only (anything else is a failure the test sees). */
function fakeNode(dir: string, version: string): void {
  const file = path.join(dir, 'bin', 'node.new');
  writeFileSync(
    file,
    `#!/bin/sh\necho started >> ${dir}/starts\n[ "$*" = --version ] || exit 9\necho '${version}'\n`,
  );
  chmodSync(file, 0o755);
  renameSync(file, path.join(dir, 'bin', 'node'));
}

test('the host Node is started once, then again only when its binary changes', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pier-host-node-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('mkdir', [path.join(dir, 'bin')]);
  const cache = path.join(dir, '.pier-host-node');
  const probe = () =>
    execFileSync('/bin/sh', ['-c', render(cachedHostRuntime(cache))], {
      encoding: 'utf8',
      env: { PATH: `${dir}/bin:/usr/bin:/bin` },
    });
  const starts = () => readFileSync(path.join(dir, 'starts'), 'utf8').split('\n').filter(Boolean).length;
  const uname = execFileSync('uname', ['-sm'], { encoding: 'utf8' }).trim();
  fakeNode(dir, 'v20.1.0');
  assert.equal(probe(), `v20.1.0 ${uname}\n`);
  assert.equal(probe(), `v20.1.0 ${uname}\n`);
  assert.equal(probe(), `v20.1.0 ${uname}\n`);
  assert.equal(starts(), 1, 'answered from the cache after the first start');
  // An upgrade renames a new binary into place: a new inode, a new answer.
  fakeNode(dir, 'v22.0.0');
  assert.equal(probe(), `v22.0.0 ${uname}\n`);
  assert.equal(starts(), 2);
  // An unwritable cache only means asking every time.
  rmSync(cache);
  execFileSync('mkdir', [cache]);
  assert.equal(probe(), `v22.0.0 ${uname}\n`);
  assert.equal(probe(), `v22.0.0 ${uname}\n`);
  assert.equal(starts(), 4);
});

test('a host without node prints nothing and fails', () => {
  assert.throws(() =>
    execFileSync('/bin/sh', ['-c', render(cachedHostRuntime('/nonexistent/cache'))], {
      encoding: 'utf8',
      env: { PATH: '/nonexistent' },
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  );
});
