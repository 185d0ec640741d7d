// Loaded with `node --require` into a process under test: on exit it writes what the process
// loaded to $PIER_MODULE_TRACE, one per line: the file URL of every module require() loaded
// (CommonJS, and ES modules loaded through require) and every Node built-in it compiled
// (`NativeModule name`), so a test can tell what a start-up cost. CommonJS, so that tracing
// starts no ES module loader of its own: a module loaded with import() shows as the ESM
// loader's built-ins (internal/modules/esm/module_job), not by its URL.
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const out = process.env.PIER_MODULE_TRACE ?? '';
// Node's own list of what it compiled, not in its typings.
const { moduleLoadList } = process as unknown as { moduleLoadList: string[] };
process.on('exit', () => {
  const files = Object.keys(require.cache).map((file) => pathToFileURL(file).href);
  const builtins = moduleLoadList.filter((name) => name.startsWith('NativeModule '));
  writeFileSync(out, `${[...files, ...builtins].join('\n')}\n`);
});
