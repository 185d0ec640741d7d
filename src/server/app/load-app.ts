// Loads an app module from a path. The path is resolved to its realpath at load time, so a
// worker spawned after a `current` symlink switch runs the new release. TypeScript modules are
// loaded through tsx's ESM hooks, registered only when the first .ts module is asked for, with
// typescript-format.ts in front so a .ts file with ESM syntax loads outside an ESM package too.
import { realpathSync } from 'node:fs';
import { register } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { AppLoadError } from '../errors.js';
import { AppEntryError, appEntry } from './app-entry.js';
import { type App, toApp } from './handler.js';

const typescriptExtension = /\.(?:ts|mts|cts|tsx)$/;
let typescriptHooks: Promise<unknown> | undefined;

function registerTypescript(): Promise<unknown> {
  typescriptHooks ??= import('tsx/esm/api').then((tsx) => {
    tsx.register();
    // Registered last, so it runs first and sees what tsx resolved.
    register(new URL('./typescript-format.js', import.meta.url));
  });
  return typescriptHooks;
}

export function resolveAppPath(appPath: string, cwd = process.cwd()): string {
  const absolute = path.resolve(cwd, appPath);
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
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(resolved).href)) as { default?: unknown };
  } catch (cause) {
    throw new AppLoadError(`app module ${resolved} failed to load`, { cause });
  }
  return toApp(module.default, resolved);
}
