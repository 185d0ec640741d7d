import assert from 'node:assert/strict';
import { test } from 'node:test';
import { run } from './run.js';

test('a failing program is reported with the end of its stderr, or of its stdout when it wrote no stderr', async () => {
  // tsc reports its errors on stdout and exits 2.
  await assert.rejects(
    run(['sh', '-c', 'echo compiling; echo "src/a.ts(1,1): error TS1434: Unexpected keyword."; exit 2'], {
      cwd: '/',
    }),
    {
      code: 'FLEET_LOCAL_COMMAND',
      message:
        'sh -c echo compiling; echo "src/a.ts(1,1): error TS1434: Unexpected keyword."; exit 2 failed (exit 2): compiling / src/a.ts(1,1): error TS1434: Unexpected keyword.',
    },
  );
  await assert.rejects(run(['sh', '-c', 'echo out; echo err >&2; exit 1'], { cwd: '/' }), {
    message: /failed \(exit 1\): err$/,
  });
  await assert.rejects(run(['sh', '-c', 'exit 3'], { cwd: '/' }), {
    message: /failed \(exit 3\): it printed nothing$/,
  });
});
