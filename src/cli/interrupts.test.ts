import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';

test('a second signal stops at once and says what is left and what to do about it', async () => {
  // A run that never ends by itself, in its own process: the first SIGINT aborts it, the second exits.
  const script = `
    import { withInterrupts } from ${JSON.stringify(new URL('./interrupts.js', import.meta.url).href)};
    await withInterrupts(() => new Promise(() => { setInterval(() => {}, 1000); process.stdout.write('running\\n'); }), {
      leftBehind: 'pier deploy --resume continues it',
    });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script]);
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  while (!out.includes('running')) await new Promise((resolve) => setTimeout(resolve, 10));
  child.kill('SIGINT');
  while (!out.includes('interrupted:')) await new Promise((resolve) => setTimeout(resolve, 10));
  child.kill('SIGINT');
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 130);
  assert.match(out, /^SIGINT again: stopping now; pier deploy --resume continues it$/m);
});
