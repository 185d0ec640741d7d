// `pier release VERSION`: refuse a dirty tree or an existing tag, tag, build from the tag,
// optionally push. And finding the artifact of a version for a deploy.
import { existsSync } from 'node:fs';
import { FleetError } from '../errors.js';
import { buildArtifact } from './artifact.js';
import { createTag, deleteTag, dirtyFiles, listTags, pushTag, tagExists } from './git.js';
import { checkRuntimeMode, type RuntimeMode } from './runtime.js';
import type { ReleaseManifest, ReleaseStore } from './store.js';
import { checkVersion } from './version.js';

export interface ReleaseOptions {
  repo: string;
  version: string;
  store: ReleaseStore;
  push: boolean;
  remote: string;
  runtime: RuntimeMode;
  log?: (line: string) => void;
  /** Aborted (Ctrl-C): the build stops, the tag it made is removed, the reason is thrown. */
  signal?: AbortSignal;
}

export async function createRelease(options: ReleaseOptions): Promise<ReleaseManifest> {
  const version = checkVersion(options.version);
  const dirty = await dirtyFiles(options.repo);
  if (dirty.length > 0) {
    const shown = dirty.slice(0, 5).map((line) => line.trim());
    throw new FleetError(
      'FLEET_DIRTY_TREE',
      `the working tree has uncommitted changes: ${shown.join(', ')}${dirty.length > 5 ? ', …' : ''}`,
      {
        hint: 'commit or stash them first: a release is exactly a commit',
      },
    );
  }
  if (await tagExists(options.repo, version)) {
    throw new FleetError('FLEET_TAG_EXISTS', `tag ${version} already exists`, {
      hint: `pick a new version; \`pier deploy ${version}\` deploys the existing one`,
    });
  }
  await createTag(options.repo, version);
  let manifest: ReleaseManifest;
  try {
    manifest = await buildArtifact({
      repo: options.repo,
      version,
      store: options.store,
      runtime: options.runtime,
      log: options.log,
      signal: options.signal,
    });
  } catch (err) {
    // The tag was made a moment ago and never pushed: remove it so fixing the build and
    // running the same command again works.
    await deleteTag(options.repo, version).catch(() => {});
    throw err;
  }
  if (options.push) {
    // A push half-done cannot be taken back from here: it finishes, and the release stands.
    await pushTag(options.repo, version, options.remote);
    if (options.signal?.aborted)
      options.log?.(`the tag ${version} was pushed before the signal came: the release stands`);
  }
  return manifest;
}

/** The artifact for a version: from the store, or built from its tag when missing. */
export async function artifactFor(
  repo: string,
  version: string,
  store: ReleaseStore,
  runtime: RuntimeMode,
  log?: (line: string) => void,
): Promise<ReleaseManifest> {
  const manifest = await store.readManifest(version);
  if (manifest && existsSync(store.artifactPath(manifest.sha256))) {
    checkRuntimeMode(version, manifest.runtime, runtime);
    return manifest;
  }
  if (!(await tagExists(repo, version))) {
    // A version that names nothing is bad input (exit 2), as a malformed one is.
    throw new FleetError('FLEET_NO_RELEASE', `there is no release ${version} (no tag, no artifact)`, {
      hint: `create it with: pier release ${version}`,
      exitCode: 2,
    });
  }
  return buildArtifact({ repo, version, store, runtime, log });
}

export interface ReleaseListing {
  version: string;
  date: string;
  commit: string;
  sha256: string | undefined;
  size: number | undefined;
}

export async function listReleases(repo: string, store: ReleaseStore): Promise<ReleaseListing[]> {
  const manifests = new Map((await store.manifests()).map((manifest) => [manifest.version, manifest]));
  return (await listTags(repo)).map((tag) => {
    const manifest = manifests.get(tag.version);
    return { ...tag, sha256: manifest?.sha256, size: manifest?.size };
  });
}
