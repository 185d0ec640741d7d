// A module resolve hook (node:module register), chained in front of tsx's: a `.ts`/`.tsx` file
// written with import/export syntax loads as an ES module wherever it lives.
//
// Node decides a file's format by its package scope, and a scope without "type": "module" (no
// package.json at all, or a CommonJS package) says commonjs. tsx then hands the file to
// require(), which meets ESM syntax and fails ("Cannot require() ES Module ... in a cycle" on
// Node 20.19+). Node itself detects module syntax in ambiguous .js files; this does the same for
// TypeScript. Files that really are CommonJS (`module.exports`, `import x = require()`) and
// packages under node_modules keep the format their scope gives them.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface Resolved {
  url: string;
  format?: string | null | undefined;
}
type NextResolve = (specifier: string, context?: unknown) => Promise<Resolved>;

const typescriptFile = /\.tsx?$/;

// A top-level import or export statement: at the start of a line (past a byte order mark), or
// after another statement on the same line (`const h = {}; export default h`). TypeScript's
// CommonJS forms (`import x = require()`, `export =`) do not match; a match inside a comment or
// a string is possible but harmless: such a file is then compiled as a module, which is what a
// .ts file with ESM syntax needs anyway.
const moduleStatement =
  /(?:^|[;}]|\uFEFF)[ \t]*(?:import[ \t]*(?:['"{*]|type\b|[\w$]+[ \t]*(?:,|from\b))|export[ \t]*(?:[{*]|(?:default|const|let|var|function|async|class|type|interface|enum|abstract|declare|namespace)\b))/m;

/** True when TypeScript source `text` uses ES module syntax (see moduleStatement). */
export function hasModuleSyntax(text: string): boolean {
  return moduleStatement.test(text);
}

export async function resolve(specifier: string, context: unknown, next: NextResolve): Promise<Resolved> {
  const resolved = await next(specifier, context);
  if (
    resolved.format === 'commonjs' &&
    resolved.url.startsWith('file:') &&
    typescriptFile.test(new URL(resolved.url).pathname) &&
    !resolved.url.includes('/node_modules/')
  ) {
    try {
      if (hasModuleSyntax(readFileSync(fileURLToPath(resolved.url), 'utf8'))) {
        return { ...resolved, format: 'module' };
      }
    } catch {
      // Unreadable here: let the load step report it.
    }
  }
  return resolved;
}
