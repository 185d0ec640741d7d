// Native addons in an artifact, made independent of the directory they were built in. node-gyp
// leaves its whole build directory behind (Makefiles, config.gypi, *.target.mk, object files,
// .deps), and those name the absolute build path; the build runs in a fresh temporary directory,
// so without this the same tag would never build the same bytes twice.
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * The environment for `npm ci` and the build: CFLAGS and CXXFLAGS (which node-gyp's Makefiles
 * append to every compile) gain `-ffile-prefix-map=<root>=.`, so `__FILE__`, assertion messages
 * and debug info name `./node_modules/…` instead of the temporary directory (GCC ≥ 8, clang ≥ 10).
 * Flags the caller already set are kept in front.
 */
export function pathIndependentBuildEnv(env: NodeJS.ProcessEnv, root: string): NodeJS.ProcessEnv {
  const map = `-ffile-prefix-map=${root}=.`;
  const add = (flags: string | undefined) => (flags ? `${flags} ${map}` : map);
  return { ...env, CFLAGS: add(env.CFLAGS), CXXFLAGS: add(env.CXXFLAGS) };
}

/** What node-gyp leaves in `build/<Release|Debug>/` that only the compile and link steps read. */
const INTERMEDIATE_DIRS = new Set(['obj.target', 'obj', '.deps']);
const INTERMEDIATE_FILE = /\.(a|o|d)$/;

/**
 * Trims every node-gyp build directory under `root` (a `build/` holding `config.gypi`, beside a
 * `binding.gyp`: node_modules at any depth, and the app itself) to what is loaded at run time:
 * `build/Release/` and `build/Debug/` keep the linked outputs (the `.node` modules that
 * `require('./build/Release/x.node')` and `bindings` load, shared libraries in `lib.target/`
 * found through the module's `$ORIGIN` rpath, helper executables); object files, static
 * libraries, dependency files, Makefiles and config.gypi go. Symbolic links are not followed.
 *
 * Returns the trimmed build directories, relative to `root`, sorted.
 */
export async function trimNativeBuilds(root: string): Promise<string[]> {
  const trimmed: string[] = [];
  for (const build of await nodeGypBuilds(root)) {
    for (const entry of await readdir(build, { withFileTypes: true })) {
      const full = path.join(build, entry.name);
      if (entry.isDirectory() && (entry.name === 'Release' || entry.name === 'Debug')) {
        await trimOutputs(full);
      } else {
        await rm(full, { recursive: true, force: true });
      }
    }
    trimmed.push(path.relative(root, build));
  }
  return trimmed.sort();
}

async function trimOutputs(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() ? INTERMEDIATE_DIRS.has(entry.name) : INTERMEDIATE_FILE.test(entry.name)) {
      await rm(full, { recursive: true, force: true });
    } else if (entry.isDirectory()) {
      await trimOutputs(full);
    }
  }
}

async function nodeGypBuilds(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const found: string[] = [];
  const hasBindingGyp = entries.some((entry) => entry.isFile() && entry.name === 'binding.gyp');
  if (hasBindingGyp && existsSync(path.join(dir, 'build', 'config.gypi')))
    found.push(path.join(dir, 'build'));
  for (const entry of entries) {
    if (entry.isDirectory() && !(hasBindingGyp && entry.name === 'build')) {
      found.push(...(await nodeGypBuilds(path.join(dir, entry.name))));
    }
  }
  return found;
}
