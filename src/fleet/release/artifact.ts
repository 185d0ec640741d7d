// The release artifact: the app built from the tag (never the working tree), submodules included,
// with its production dependencies, as one .tar.gz that is byte-for-byte the same every time the
// same tag is built, wherever: native addons compiled path-independently and trimmed to what is
// loaded at run time, entries sorted, mtimes set to the commit time, owners 0, modes normalised,
// `gzip -n`.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FleetError } from '../errors.js';
import { tagCommit } from './git.js';
import { pathIndependentBuildEnv, trimNativeBuilds } from './native-builds.js';
import { run } from './run.js';
import { addRuntime, type RuntimeMode } from './runtime.js';
import { extractSource } from './source.js';
import type { ReleaseManifest, ReleaseStore } from './store.js';

export interface BuildOptions {
  repo: string;
  version: string;
  store: ReleaseStore;
  /** `bundled` puts the building Node into the artifact (see runtime.ts). */
  runtime: RuntimeMode;
  log?: (line: string) => void;
  /** Aborted (Ctrl-C): the build's programs are ended, the build directory removed, and the
   * signal's reason thrown. */
  signal?: AbortSignal;
}

export async function buildArtifact(options: BuildOptions): Promise<ReleaseManifest> {
  const { repo, version, store } = options;
  const log = options.log ?? (() => {});
  const { commit, time } = await tagCommit(repo, version);
  // The real path: compilers record the directory as getcwd() reports it.
  const work = await realpath(await mkdtemp(path.join(tmpdir(), 'pier-build-')));
  const app = path.join(work, 'app');
  try {
    log(`building ${version} (${commit.slice(0, 12)}) from the tag in ${app}`);
    await extractSource(repo, version, commit, app, work);
    const env: NodeJS.ProcessEnv = pathIndependentBuildEnv(
      { ...process.env, SOURCE_DATE_EPOCH: String(time), NODE_ENV: 'development' },
      app,
    );
    // npm and node-gyp build with the Node running pier, the one recorded (and bundled).
    env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${env.PATH ?? ''}`;
    // Every step checks the signal: a Ctrl-C must never end in a release after all.
    const { signal } = options;
    signal?.throwIfAborted();
    await installAndBuild(app, env, log, signal);
    signal?.throwIfAborted();
    for (const build of await trimNativeBuilds(app)) log(`kept only the run-time files of ${build}`);
    signal?.throwIfAborted();
    if (options.runtime === 'bundled') log(`adding the Node runtime ${process.version}`);
    const runtime = await addRuntime(app, options.runtime);
    await writeFile(path.join(app, 'REVISION'), `${commit}\n`);
    signal?.throwIfAborted();
    log('packing the artifact (tar | gzip -9)');
    const partial = path.join(work, 'artifact.tar.gz');
    const sha256 = await pack(app, time, partial, signal);
    // The last moment to stop: past it, the manifest names the release.
    signal?.throwIfAborted();
    const target = store.artifactPath(sha256);
    await store.makeDir('artifacts');
    await rename(partial, target).catch(async () => {
      // /tmp may be another file system than the repo.
      await pipeline((await import('node:fs')).createReadStream(partial), createWriteStream(`${target}.tmp`));
      await rename(`${target}.tmp`, target);
    });
    const manifest: ReleaseManifest = {
      version,
      commit,
      sha256,
      size: (await stat(target)).size,
      artifact: path.relative(store.root, target),
      builtAt: new Date().toISOString(),
      runtime,
    };
    await store.writeManifest(manifest);
    if (signal?.aborted) {
      // The signal came while the artifact was moved into the store: it is not a release yet.
      await rm(store.manifestPath(version), { force: true });
      signal.throwIfAborted();
    }
    log(`artifact ${target} (${manifest.size} bytes)`);
    return manifest;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function installAndBuild(
  app: string,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  const manifestFile = path.join(app, 'package.json');
  if (!existsSync(manifestFile)) return;
  const pkg = JSON.parse(await readFile(manifestFile, 'utf8')) as {
    dependencies?: object;
    devDependencies?: object;
    scripts?: Record<string, string>;
  };
  const hasDeps =
    Object.keys(pkg.dependencies ?? {}).length + Object.keys(pkg.devDependencies ?? {}).length > 0;
  const hasLock =
    existsSync(path.join(app, 'package-lock.json')) || existsSync(path.join(app, 'npm-shrinkwrap.json'));
  if (hasDeps && !hasLock) {
    throw new FleetError('FLEET_NO_LOCKFILE', 'the tagged tree has dependencies but no package-lock.json', {
      hint: 'commit package-lock.json: without it the same tag could build different artifacts',
    });
  }
  const quiet = ['--no-audit', '--no-fund', '--loglevel=error'];
  if (hasLock) {
    log('npm ci');
    await run(['npm', 'ci', ...quiet], { cwd: app, env, signal });
  }
  if (pkg.scripts?.build) {
    log('npm run build');
    await run(['npm', 'run', 'build'], { cwd: app, env, signal });
  }
  if (hasLock) {
    log('npm prune --omit=dev');
    await run(['npm', 'prune', '--omit=dev', ...quiet], { cwd: app, env, signal });
  }
  await rm(path.join(app, 'node_modules', '.cache'), { recursive: true, force: true });
}

/**
 * tar | gzip -n into `out`, hashing on the way; returns the SHA-256. Aborting `signal` ends
 * both programs (SIGTERM to each PID) and rejects with the signal's reason once both are gone.
 */
async function pack(
  app: string,
  mtime: number,
  out: string,
  signal: AbortSignal | undefined,
): Promise<string> {
  const tar = spawn(
    'tar',
    [
      ...['--sort=name', `--mtime=@${mtime}`, '--owner=0', '--group=0', '--numeric-owner'],
      ...['--mode=u+rwX,go+rX,go-w', '--format=gnu', '-C', app, '-cf', '-', '.'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], signal },
  );
  const gzip = spawn('gzip', ['-n', '-9'], { stdio: ['pipe', 'pipe', 'pipe'], signal });
  const hash = createHash('sha256');
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const exited = (child: ReturnType<typeof spawn>, name: string): Promise<void> =>
    new Promise((resolve, reject) => {
      // 'close' follows 'error' (an aborted or failed spawn); the abort's reason wins over both.
      child.on('error', (err) => reject(new FleetError('FLEET_PACK', `cannot run ${name}: ${err.message}`)));
      child.on('close', (code) =>
        code === 0 ? resolve() : reject(new FleetError('FLEET_PACK', `${name} failed with exit ${code}`)),
      );
    });
  // Settled, not raced: the work directory is removed only after both programs are gone.
  const results = await Promise.allSettled([
    pipeline(tar.stdout, gzip.stdin),
    pipeline(gzip.stdout, hashing, createWriteStream(out)),
    exited(tar, 'tar'),
    exited(gzip, 'gzip'),
  ]);
  signal?.throwIfAborted();
  for (const result of results) if (result.status === 'rejected') throw result.reason;
  return hash.digest('hex');
}
