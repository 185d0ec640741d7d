// The app a CGI process answers with, loaded as cheaply as a process per request needs. The
// script `pier init` writes (deploy/apache/www/app.js) is an ES module that only re-exports the
// app's default; it is followed to the module it names, without starting Node's ES module
// loader for it. pier's own Hello is part of this bundle, so the seed's app loads no file at
// all; any other app is loaded with require() (loadAppOnce).
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import hello from '../../hello/hello.js';
import { type App, toApp } from '../app/handler.js';
import { loadAppOnce } from '../app/load-app.js';

/** The only statement of a re-export script, as `pier init` writes it; the path is relative. */
const reExport = /^export\s*\{\s*default\s*\}\s*from\s*(['"])(\.\.?\/[^'"\\]*)\1\s*;?$/;
/** Re-export scripts are a few lines; a longer file is an app, not one of them. */
const stubLength = 4096;

// This module's directory. The CommonJS bundle (main.cjs, in this same directory) has
// __dirname; going through import.meta.url there would cost each request ~0.3 ms of URL work.
const here = (): string =>
  typeof __dirname === 'string' ? __dirname : dirname(fileURLToPath(import.meta.url));

/**
 * The absolute path (`file`'s directory joined with the specifier, not resolved through
 * symlinks) of the module `file` re-exports its default from, when `file` is a JavaScript
 * module whose only statement (past a shebang, comments and blank lines) is
 * `export { default } from './path'` with a relative path; else undefined (the file is loaded
 * as it is, and any error is reported for it).
 */
export function reExportTarget(file: string): string | undefined {
  if (!/\.m?js$/.test(file)) return undefined;
  let text: string;
  try {
    // Read whole: readFileSync is one call into C++, reading a prefix takes four.
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  if (text.length > stubLength) return undefined;
  const statements = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line, i) => line !== '' && !line.startsWith('//') && !(i === 0 && line.startsWith('#!')));
  const match = statements.length === 1 ? reExport.exec(statements[0] ?? '') : null;
  return match?.[2] ? resolve(dirname(file), match[2]) : undefined;
}

/**
 * Loads the app module at `appPath` (relative to `cwd`) for one CGI request. Throws
 * AppLoadError as loadApp does: a missing module, one that fails to load, or no app in it.
 */
export async function loadCgiApp(appPath: string, cwd = process.cwd()): Promise<App> {
  const file = resolve(cwd, appPath);
  const target = reExportTarget(file);
  if (target === undefined) return loadAppOnce(file);
  // The Hello of the build this module belongs to: named by the same path as this module (the
  // usual case, no system call), or by its real path.
  const ownHello = join(here(), '../../hello/hello.js');
  if (target === ownHello) return toApp(hello, target);
  let real: string;
  try {
    real = realpathSync.native(target);
  } catch {
    // A target that does not exist: the script itself is loaded, and its import fails there.
    return loadAppOnce(file);
  }
  return real === ownHello ? toApp(hello, real) : loadAppOnce(real);
}
