// The `pier` command itself: its version, and what an unknown command gets.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { pierBin, repoRoot } from './helpers/paths.js';

const pier = (...args: string[]) => spawnSync(process.execPath, [pierBin, ...args], { encoding: 'utf8' });

test('pier --version prints package.json’s version', () => {
  const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  for (const flag of ['--version', '-V']) {
    const result = pier(flag);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, `${version}\n`);
  }
});

test('usage errors exit 2 with a suggestion, not a stack trace; help exits 0', () => {
  const option = pier('serve', '--proceses', '2');
  assert.equal(option.status, 2, option.stderr);
  assert.match(option.stderr, /unknown option '--proceses'/);
  assert.match(option.stderr, /Did you mean --processes\?/);
  assert.equal(pier('serve', '--help').status, 0);
  assert.equal(pier('--help').status, 0);
  const result = pier('deplyo', 'v1');
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, /unknown command 'deplyo'/);
  assert.match(result.stderr, /Did you mean deploy\?/);
  assert.doesNotMatch(result.stderr, /at .*\.js:\d+/);
  // A usage error is its message and where the usage is, not a page of help that buries it.
  const extra = pier('deploy', 'v1', 'v2');
  assert.equal(extra.status, 2);
  assert.equal(
    extra.stderr,
    "error: too many arguments for 'deploy'. Expected 1 argument but got 2.\n(the command's --help shows its usage)\n",
  );
});

test('a reader that stops early (`pier serve --help | head -1`): pier ends quietly, status 0', () => {
  // `head -1` exits after the first line; the rest of the help meets a closed pipe.
  const result = spawnSync(
    '/bin/sh',
    ['-c', `"${process.execPath}" "${pierBin}" serve --help | head -1; echo "status $(($?))"`],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(result.stdout, 'Usage: pier serve [options] [config]\nstatus 0\n');
  assert.equal(result.stderr, '');
  // The shell's own view of pier's status, not head's.
  const status = spawnSync(
    '/bin/bash',
    ['-c', `"${process.execPath}" "${pierBin}" serve --help | head -1 >/dev/null; echo "\${PIPESTATUS[0]}"`],
    { encoding: 'utf8' },
  );
  assert.equal(status.stdout, '0\n');
  assert.equal(status.stderr, '');
});
