import assert from 'node:assert/strict';
import { test } from 'node:test';
import { printable } from './printable.js';

test('control characters from a host are shown, not acted on; text, tabs and newlines stay', () => {
  assert.equal(
    printable('\x1b]0;PWNED\x07\x1b[2J\r\x1b[Kfake: all good'),
    '\\x1b]0;PWNED\\x07\\x1b[2J\\x0d\\x1b[Kfake: all good',
  );
  assert.equal(printable('\x9b31m'), '\\x9b31m');
  assert.equal(printable('ok\tv2\nnext — ü'), 'ok\tv2\nnext — ü');
});

test("a host's text in a HostError (a failed hook's last line, a command's stderr) reaches the terminal escaped", async () => {
  const { HookError } = await import('../fleet/rollout/hook-steps.js');
  const { RemoteCommandError } = await import('../fleet/ssh/errors.js');
  const hook = new HookError(
    {
      hook: 'once',
      host: 'ams-1',
      command: 'printf x',
      exit: 1,
      durationMs: 5,
      output: 'ok\n\x1b[2J\rfake: all good',
    },
    1000,
  );
  assert.equal(hook.message, 'once hook `printf x` failed (exit 1): \\x1b[2J\\x0dfake: all good');
  const stage = new RemoteCommandError('stage', 1, '\x1b]0;title\x07tar: error');
  assert.equal(stage.message, 'stage failed (exit 1): \\x1b]0;title\\x07tar: error');
});
