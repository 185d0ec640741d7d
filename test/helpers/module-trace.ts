// Loaded with `node --import` into a process under test: on exit it writes what the process
// loaded to $PIER_MODULE_TRACE, one per line: every ES module URL it resolved and every Node
// built-in it compiled (`NativeModule name`), so a test can tell what a start-up cost.
import { appendFileSync, writeFileSync } from 'node:fs';
import { register } from 'node:module';

const out = process.env.PIER_MODULE_TRACE ?? '';
writeFileSync(out, '');
// The hooks run on the loader thread; they append each resolved URL to the same file.
const hooks = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(${JSON.stringify(out)}, result.url + '\\n');
  return result;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
// Node's own list of what it compiled, not in its typings.
const { moduleLoadList } = process as unknown as { moduleLoadList: string[] };
process.on('exit', () => {
  const builtins = moduleLoadList.filter((name) => name.startsWith('NativeModule '));
  appendFileSync(out, `${builtins.join('\n')}\n`);
});
