// Loads an app module from a path. The path is resolved to its realpath at load time, so a
// worker spawned after a `current` symlink switch runs the new release. TypeScript modules are
// loaded through tsx's ESM hooks, registered only when the first .ts module is asked for, with
// typescript-format.ts in front so a .ts file with ESM syntax loads outside an ESM package too.
import { realpathSync } from 'node:fs';
import { createRequire, register } from 'node:module';
// Named imports: a default import costs the CGI bundle a copy of the module object.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AppLoadError } from '../errors.js';
import { AppEntryError, appEntry } from './app-entry.js';
import { dynamicImport } from './dynamic-import.js';
import { type App, toApp } from './handler.js';

const typescriptExtension = /\.(?:ts|mts|cts|tsx)$/;
let typescriptHooks: Promise<unknown> | undefined;

function registerTypescript(): Promise<unknown> {
  typescriptHooks ??= dynamicImport<typeof import('tsx/esm/api')>('tsx/esm/api').then((tsx) => {
    tsx.register();
    // Registered last, so it runs first and sees what tsx resolved.
    register(new URL('./typescript-format.js', import.meta.url));
  });
  return typescriptHooks;
}

export function resolveAppPath(appPath: string, cwd = process.cwd()): string {
  const absolute = resolve(cwd, appPath);
  let real: string;
  try {
    real = realpathSync(absolute);
  } catch (cause) {
    throw new AppLoadError(`app module ${absolute} does not exist`, { cause });
  }
  try {
    return appEntry(real);
  } catch (err) {
    if (err instanceof AppEntryError) throw new AppLoadError(`app ${absolute}: ${err.message}`);
    throw err;
  }
}

export async function loadApp(appPath: string, cwd = process.cwd()): Promise<App> {
  const resolved = resolveAppPath(appPath, cwd);
  if (typescriptExtension.test(resolved)) await registerTypescript();
  return toApp((await importModule(resolved)).default, resolved);
}

/**
 * loadApp for a process that loads one app, answers one request and exits (CGI). The module is
 * loaded with require(), which takes ES modules too since Node 20.19 and skips the start-up of
 * the ESM loader's asynchronous path: about 2 ms of the ~20 a bare Node costs (bench/cgi).
 * import() still loads what require() cannot: TypeScript (tsx hooks the ESM loader), a module
 * with top-level await (ERR_REQUIRE_ASYNC_MODULE), an ES module before Node 20.19
 * (ERR_REQUIRE_ESM). A module that fails to load throws AppLoadError, as with loadApp.
 */
export async function loadAppOnce(appPath: string, cwd = process.cwd()): Promise<App> {
  const resolved = resolveAppPath(appPath, cwd);
  if (typescriptExtension.test(resolved)) {
    await registerTypescript();
    return toApp((await importModule(resolved)).default, resolved);
  }
  let module: { default?: unknown };
  try {
    const exported: unknown = createRequire(import.meta.url)(resolved);
    // An ES module comes back as its namespace; a CommonJS module's default export, as import()
    // would give it, is its module.exports.
    module = isNamespace(exported) ? exported : { default: exported };
  } catch (cause) {
    const code = (cause as { code?: unknown }).code;
    if (code !== 'ERR_REQUIRE_ASYNC_MODULE' && code !== 'ERR_REQUIRE_ESM')
      throw new AppLoadError(`app module ${resolved} failed to load`, { cause });
    module = await importModule(resolved);
  }
  return toApp(module.default, resolved);
}

const isNamespace = (value: unknown): value is { default?: unknown } =>
  typeof value === 'object' && value !== null && Object.prototype.toString.call(value) === '[object Module]';

async function importModule(resolved: string): Promise<{ default?: unknown }> {
  try {
    return (await dynamicImport(pathToFileURL(resolved).href)) as { default?: unknown };
  } catch (cause) {
    throw new AppLoadError(`app module ${resolved} failed to load`, { cause });
  }
}
