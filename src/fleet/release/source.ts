// The source of an artifact: the tree of the tagged commit and, at the commits that tree records,
// the trees of its submodules (and theirs, at any depth), extracted into one directory. `git
// archive` stops at a submodule and leaves an empty directory, so an app importing vendored code
// from a submodule would build and then fail on the host with "Cannot find module".
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { FleetError } from '../errors.js';
import {
  archiveCommit,
  type Gitlink,
  gitDirOf,
  gitlinks,
  hasCommit,
  submoduleGitDir,
  submoduleNames,
} from './git.js';
import { run } from './run.js';

/** One repository in the nesting: its git directory and where its working tree would be. */
interface Checkout {
  gitDir: string;
  worktree: string;
}

/**
 * Extracts `commit` of `repo` into `dest` (created), each submodule from its own repository at
 * the commit recorded in the parent's tree, never at what the working tree has checked out: the
 * same tag always gives the same files. `scratch` is a directory for the temporary tar files.
 *
 * Throws FleetError FLEET_SUBMODULE_MISSING (naming the submodule's path from the top) when a
 * recorded commit is not in this clone: the submodule was never initialised or not fetched.
 */
export async function extractSource(
  repo: string,
  version: string,
  commit: string,
  dest: string,
  scratch: string,
): Promise<void> {
  const top: Checkout = { gitDir: await gitDirOf(repo), worktree: repo };
  await extractTree(top, commit, { dest, shown: '', version, scratch });
}

interface Target {
  dest: string;
  /** The path from the top repository, for messages; '' for the top itself. */
  shown: string;
  version: string;
  scratch: string;
}

async function extractTree(checkout: Checkout, commit: string, target: Target): Promise<void> {
  const archive = path.join(target.scratch, 'source.tar');
  await mkdir(target.dest, { recursive: true });
  await archiveCommit(checkout.gitDir, commit, archive);
  await run(['tar', '-xf', archive, '-C', target.dest], { cwd: target.scratch });
  await rm(archive);
  const links = await gitlinks(checkout.gitDir, commit);
  if (links.length === 0) return;
  const names = await submoduleNames(checkout.gitDir, commit);
  for (const link of links) {
    const shown = path.posix.join(target.shown, link.path);
    const found = await findSubmodule(checkout, link, names.get(link.path) ?? link.path);
    if (!('gitDir' in found)) throw missing(shown, link.commit, target.version, found.initialised);
    await extractTree(found, link.commit, { ...target, dest: path.join(target.dest, link.path), shown });
  }
}

/**
 * The repository of a submodule that holds its recorded commit: where git keeps it
 * (`<git dir>/modules/<name>`), or a `.git` in its checkout (submodules cloned by old git, or by
 * hand with `git clone` in place). Otherwise whether any such repository exists at all.
 */
async function findSubmodule(
  parent: Checkout,
  link: Gitlink,
  name: string,
): Promise<Checkout | { initialised: boolean }> {
  const worktree = path.join(parent.worktree, link.path);
  const candidates = [await submoduleGitDir(parent.gitDir, name), path.join(worktree, '.git')];
  const present = candidates.filter((gitDir) => existsSync(gitDir));
  for (const gitDir of present) {
    if (await hasCommit(gitDir, link.commit)) return { gitDir, worktree };
  }
  return { initialised: present.length > 0 };
}

function missing(shown: string, commit: string, version: string, initialised: boolean): FleetError {
  const why = initialised
    ? `its commit ${commit.slice(0, 12)} (recorded in ${version}) has not been fetched`
    : `it is not initialised in this clone (${version} records commit ${commit.slice(0, 12)})`;
  return new FleetError('FLEET_SUBMODULE_MISSING', `submodule ${shown}: ${why}`, {
    hint:
      'run `git submodule update --init --recursive`, then run the command again ' +
      '(the artifact holds each submodule at the commit the tag records)',
  });
}
