// Runs every compiled test file (unit tests beside the code, integration tests in test/) with
// Node's test runner. Extra arguments are passed through (e.g. a file filter).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(full);
    return entry.name.endsWith('.test.js') ? [full] : [];
  });
}

const filter = process.argv.slice(2);
const files = ['dist/src', 'dist/examples', 'dist/test']
  .filter((dir) => existsSync(dir))
  .flatMap((dir) => testFiles(dir))
  .filter((file) => filter.length === 0 || filter.some((part) => file.includes(part)))
  .sort();
if (files.length === 0) {
  // node --test without files would search the whole tree on its own (fixtures included).
  console.error(`run-tests: no compiled test file matches ${filter.join(', ')} (npm run build first?)`);
  process.exit(2);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=4', ...files], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
