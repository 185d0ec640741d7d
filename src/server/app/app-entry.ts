// Which file an app path names. A file is itself; a directory is resolved the way Node resolves
// a package directory: package.json `exports` (its "." entry, under the import/node/default
// conditions), else `main`, else an index file. import() refuses directories outright
// ("Directory import ... is not supported"), so pier resolves them before it imports.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Index files tried in a directory without package.json entry points, in this order. */
export const indexFiles = ['index.ts', 'index.mts', 'index.js', 'index.mjs'];

/** Conditions pier loads under (an ES module import in Node), in no particular order: the
 * first of them in an exports object's own key order wins, as in Node. */
const conditions = new Set(['import', 'node', 'default']);

export class AppEntryError extends Error {}

function isFile(file: string): boolean {
  return existsSync(file) && statSync(file).isFile();
}

/** The target an `exports` value gives for ".", or undefined. */
function exportsTarget(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    for (const item of value) {
      const target = exportsTarget(item);
      if (target) return target;
    }
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const entries = Object.entries(value as Record<string, unknown>);
  // Subpath keys ("." , "./x") versus condition keys (import, default, ...).
  if (entries.some(([key]) => key.startsWith('.')))
    return exportsTarget((value as Record<string, unknown>)['.']);
  for (const [key, nested] of entries) {
    if (!conditions.has(key)) continue;
    const target = exportsTarget(nested);
    if (target) return target;
  }
  return undefined;
}

/**
 * The module file an app path stands for: `absolute` itself when it is a file; for a directory,
 * its package.json `exports["."]` (or string `exports`), else `main`, else the first of
 * index.ts, index.mts, index.js, index.mjs. Throws AppEntryError saying what was looked for when
 * a directory names no module, or its package.json is unreadable or points at nothing.
 */
export function appEntry(absolute: string): string {
  if (!statSync(absolute).isDirectory()) return absolute;
  const manifest = join(absolute, 'package.json');
  if (existsSync(manifest)) {
    let pkg: { exports?: unknown; main?: unknown };
    try {
      pkg = JSON.parse(readFileSync(manifest, 'utf8')) as typeof pkg;
    } catch (err) {
      throw new AppEntryError(`${manifest} is not valid JSON (${(err as Error).message})`);
    }
    const field = pkg.exports !== undefined ? 'exports' : typeof pkg.main === 'string' ? 'main' : undefined;
    const target = field === 'exports' ? exportsTarget(pkg.exports) : (pkg.main as string | undefined);
    if (field === 'exports' && !target) {
      throw new AppEntryError(`${manifest}: "exports" has no "." entry for import, node or default`);
    }
    if (target) {
      const file = resolve(absolute, target);
      if (!isFile(file))
        throw new AppEntryError(`${manifest}: "${field}" points at ${file}, which is not a file`);
      return file;
    }
  }
  for (const name of indexFiles) {
    const file = join(absolute, name);
    if (isFile(file)) return file;
  }
  throw new AppEntryError(
    `${absolute} is a directory with no app module: no package.json "exports" or "main", and no ${indexFiles.join(', ')}`,
  );
}
