// What lives beside the releases (Capistrano's linked_dirs/linked_files): shared.dirs and
// shared.files are kept in <deploy_to>/shared/ and linked into each release, the release's own
// copy (if the artifact has one) replaced by the link. Retention and rollback only remove or
// switch release directories, and `rm -rf` does not follow links: shared/ is never touched.
import path from 'node:path/posix';
import { writeDropIn, writeReleaseEnv } from './environment.js';
import type { Layout } from './layout.js';
import { all, each, either, type Script } from './shell.js';

export interface SharedPaths {
  dirs: readonly string[];
  files: readonly string[];
}

/** Printed (with the path) for each shared file the host lacks, before the step fails. */
export const missingMarker = 'pier-shared-missing:';

export function sharedPathOf(layout: Layout, relative: string): string {
  return path.join(layout.shared, relative);
}

/** Shared directories are made when missing; shared files must be put there by the operator. */
export function checkShared(layout: Layout, paths: SharedPaths): Script[] {
  const dirs = paths.dirs.map((dir) => sharedPathOf(layout, dir));
  const files = paths.files.map((file) => sharedPathOf(layout, file));
  return [
    ...(dirs.length > 0 ? [all(['mkdir', '-p', ...dirs])] : []),
    ...(files.length > 0
      ? [
          // Every missing file is named, then the step fails.
          each(
            ...files.map((file) => either(['test', '-f', file], ['printf', `${missingMarker}%s\\n`, file])),
          ),
          all(...files.map((file) => ['test', '-f', file])),
        ]
      : []),
  ];
}

/**
 * Each shared path of `releases/<version>` made a link into shared/ (relative, like `current`).
 * The link is made beside its place and renamed over it, so redeploying the live release never
 * leaves the path missing; a real file or directory from the artifact is removed first.
 */
export function linkShared(layout: Layout, version: string, paths: SharedPaths): Script[] {
  const release = layout.release(version);
  return [...paths.dirs, ...paths.files].map((relative) => {
    const at = path.join(release, relative);
    const target = path.relative(path.dirname(at), sharedPathOf(layout, relative));
    return all(
      ...(relative.includes('/') ? [['mkdir', '-p', path.dirname(at)]] : []),
      either(['test', '-L', at], ['rm', '-rf', at]),
      ['ln', '-sfn', target, `${at}.pier-tmp`],
      ['mv', '-fT', `${at}.pier-tmp`, at],
    );
  });
}

/** Missing shared files named by checkShared's output. */
export function missingShared(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith(missingMarker))
    .map((line) => line.slice(missingMarker.length).trim());
}

/**
 * The stage's last step, run at every deploy (also when the release was already staged): shared
 * paths checked and linked, the systemd drop-in (when given) and the environment file written,
 * its text on stdin. One round trip.
 */
export function configureRelease(
  layout: Layout,
  version: string,
  paths: SharedPaths,
  dropIn: string | undefined,
): Script {
  return all(
    ...checkShared(layout, paths),
    ...linkShared(layout, version, paths),
    ...(dropIn === undefined ? [] : [writeDropIn(layout, version, dropIn)]),
    writeReleaseEnv(layout, version),
  );
}
