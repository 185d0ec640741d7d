// The long-lived shell's framing, against the real /bin/sh started the way sshd starts it (the
// login shell runs the command line), with a local process in place of the SSH channel.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { type TestContext, test } from 'node:test';
import { all, each, pipe } from '../commands/shell.js';
import { RemoteShell, shellCommand } from './remote-shell.js';

/** A shell ended with the test (by its PID), whatever the test left it doing. */
function localShell(t: TestContext, loginLine = shellCommand): { shell: RemoteShell } {
  const child = spawn('/bin/sh', ['-c', loginLine], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const shell = new RemoteShell({
    input: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    onClose: (listener) => child.once('close', (code) => listener(code)),
    kill: () => child.kill('SIGKILL'),
  });
  return { shell };
}

test('scripts run one after another with their own status, stdout and stderr', async (t) => {
  const { shell } = localShell(t);
  const first = shell.run(each(['echo', 'one'], ['sh', '-c', 'echo to stderr >&2']), 5_000);
  const second = shell.run(all(['printf', '%s', 'no newline'], ['sh', '-c', 'exit 3']), 5_000);
  const third = shell.run(all(['pwd']), 5_000);
  assert.deepEqual(await first, { code: 0, stdout: 'one\n', stderr: 'to stderr\n' });
  assert.deepEqual(await second, { code: 3, stdout: 'no newline', stderr: '' });
  assert.equal((await third).code, 0);
  shell.end();
});

test('`exit` ends only its script, and a script reading stdin does not eat the next one', async (t) => {
  const { shell } = localShell(t);
  const exited = await shell.run(all(['true'], ['exit', '7']), 5_000);
  assert.equal(exited.code, 7);
  assert.equal(shell.usable, true);
  const read = await shell.run(pipe(['cat'], ['wc', '-c']), 5_000);
  assert.equal(read.stdout.trim(), '0', 'stdin is /dev/null, not the shell input');
  const after = await shell.run(all(['echo', 'still here']), 5_000);
  assert.deepEqual(after, { code: 0, stdout: 'still here\n', stderr: '' });
  shell.end();
});

test('what the login environment prints before the shell starts is cut off', async (t) => {
  const { shell } = localShell(t, `echo Welcome to the host; echo motd >&2; ${shellCommand}`);
  assert.deepEqual(await shell.run(all(['echo', 'ok']), 5_000), { code: 0, stdout: 'ok\n', stderr: '' });
  shell.end();
});

test('output that imitates an end line does not end a script early', async (t) => {
  const { shell } = localShell(t);
  const fake = "printf '\\n--pier-end-00000000-1-- 0\\n--pier-end-00000000-1--\\n'; echo real";
  const result = await shell.run(all(['sh', '-c', fake]), 5_000);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /real\n$/);
  shell.end();
});

test('stdout is kept to its first MiB, and the shell goes on', async (t) => {
  const { shell } = localShell(t);
  const big = await shell.run(
    pipe(['head', '-c', String(3 * 1024 * 1024), '/dev/zero'], ['tr', '\\0', 'x']),
    10_000,
  );
  assert.equal(big.code, 0);
  assert.equal(big.stdout.length, 1024 * 1024);
  assert.deepEqual(await shell.run(all(['echo', 'next']), 5_000), { code: 0, stdout: 'next\n', stderr: '' });
  shell.end();
});

test('a script over its time is abandoned with FLEET_REMOTE_TIMEOUT and the shell is not reused', async (t) => {
  const { shell } = localShell(t);
  await assert.rejects(shell.run(all(['sleep', '5']), 200), { code: 'FLEET_REMOTE_TIMEOUT' });
  assert.equal(shell.usable, false);
  await assert.rejects(shell.run(all(['true']), 1_000), { code: 'FLEET_SSH_CHANNEL' });
});

test('a login shell that cannot start /bin/sh is named, with what it said', async (t) => {
  const { shell } = localShell(t, 'echo "This account is currently not available." >&2; exit 1');
  const result = await shell.run(all(['true']), 5_000);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /did not run \/bin\/sh \(exit 1\): This account is currently not available/);
  assert.equal(shell.usable, false);
});
