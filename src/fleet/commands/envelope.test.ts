// The envelope every remote script travels in, run through real login shells the way sshd runs
// them (`SHELL -c LINE`): the script's output and exit status arrive intact, with a fixed PATH
// and locale, whatever the shell is and whatever its start-up files print.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { each, envelope, scriptOutput } from './shell.js';

// fish and tcsh come from scripts/ensure-system-deps.mjs; a missing one fails, never skips.
const shells = ['/bin/sh', '/bin/bash', '/usr/bin/fish', '/usr/bin/tcsh'];

function viaLogin(shell: string, line: string, env: Record<string, string> = {}) {
  assert.ok(existsSync(shell), `${shell} is missing: run scripts/ensure-system-deps.mjs as root`);
  const result = spawnSync(shell, ['-c', line], {
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent', ...env },
    input: 'from stdin\n',
  });
  return { code: result.status, stdout: scriptOutput(result.stdout), stderr: scriptOutput(result.stderr) };
}

for (const shell of shells) {
  test(`${shell} runs the script under /bin/sh with a fixed PATH and the C locale`, () => {
    const script = each(
      ['sh', '-c', `printf '%s|%s|%s\\n' "$(command -v start-stop-daemon)" "$LC_ALL" "\${LANGUAGE-unset}"`],
      ['cat'],
      ['printf', '%s\\n', "it's \\ $HOME `x` !1"],
      ['sh', '-c', 'exit 7'],
    );
    const { code, stdout } = viaLogin(shell, envelope(script), { LANGUAGE: 'de', LANG: 'de_DE.UTF-8' });
    assert.equal(code, 7);
    assert.equal(stdout, "/usr/sbin/start-stop-daemon|C|unset\nfrom stdin\nit's \\ $HOME `x` !1\n");
  });
}

test('what the login environment prints before the script is not taken as its output', () => {
  const line = `echo "Welcome to h1"; echo noise >&2; ${envelope(['printf', '%s\\n', 'data'])}`;
  const { code, stdout, stderr } = viaLogin('/bin/sh', line);
  assert.equal(code, 0);
  assert.equal(stdout, 'data\n');
  assert.equal(stderr, '');
});

test('a login shell that cannot start the script leaves no output to misread', () => {
  assert.equal(scriptOutput('Welcome to h1\nsh: 1: exec: /bin/sh: not found\n'), '');
});
