// The git questions and actions a release needs, as argv arrays run in the repository (or, for
// submodules, against an explicit --git-dir).
import path from 'node:path';
import { FleetError } from '../errors.js';
import { run, succeeds } from './run.js';

/**
 * `git status --porcelain` lines of the working tree, pier's own store (`.pier/`, see
 * store.ts) left out: a release is built from the tag, never from the tree, and a store made
 * before it had its own .gitignore would otherwise block every release.
 */
export async function dirtyFiles(repo: string): Promise<string[]> {
  const out = await run(['git', 'status', '--porcelain', '--', '.', ':(exclude).pier'], { cwd: repo });
  return out.split('\n').filter((line) => line.trim() !== '');
}

export function tagExists(repo: string, version: string): Promise<boolean> {
  return succeeds(['git', 'rev-parse', '-q', '--verify', `refs/tags/${version}`], { cwd: repo });
}

export async function createTag(repo: string, version: string): Promise<void> {
  await run(['git', 'tag', '-a', version, '-m', `Release ${version}`], { cwd: repo });
}

export async function deleteTag(repo: string, version: string): Promise<void> {
  await run(['git', 'tag', '-d', version], { cwd: repo });
}

export async function pushTag(repo: string, version: string, remote: string): Promise<void> {
  await run(['git', 'push', remote, `refs/tags/${version}`], { cwd: repo });
}

/** The commit a tag points at and its commit time (the artifact's fixed mtime). */
export async function tagCommit(repo: string, version: string): Promise<{ commit: string; time: number }> {
  const out = await run(['git', 'log', '-1', '--format=%H %ct', `refs/tags/${version}`, '--'], { cwd: repo });
  const [commit = '', time = '0'] = out.trim().split(' ');
  return { commit, time: Number(time) };
}

/** The repository's git directory, absolute (a worktree's own one, under .git/worktrees/). */
export async function gitDirOf(repo: string): Promise<string> {
  return (await run(['git', 'rev-parse', '--absolute-git-dir'], { cwd: repo })).trim();
}

/** A submodule as a tree records it: its path in the tree and the commit it is pinned to. */
export interface Gitlink {
  path: string;
  commit: string;
}

/** Every gitlink (mode 160000) in `commit`'s tree, at any depth of that tree, in tree order. */
export async function gitlinks(gitDir: string, commit: string): Promise<Gitlink[]> {
  const out = await run(['git', '--git-dir', gitDir, 'ls-tree', '-r', '-z', '--full-tree', commit], {
    cwd: path.dirname(gitDir),
  });
  const links: Gitlink[] = [];
  for (const entry of out.split('\0')) {
    // "<mode> <type> <object>\t<path>"
    const tab = entry.indexOf('\t');
    const [mode, , object = ''] = entry.slice(0, tab).split(' ');
    if (mode === '160000') links.push({ path: entry.slice(tab + 1), commit: object });
  }
  return links;
}

/**
 * Submodule names by path, from the `.gitmodules` of `commit` (empty when it has none). Git keeps
 * a submodule's repository under its name, which `git submodule add` sets to the path but which
 * stays the same when the submodule moves (gitmodules(5)).
 */
export async function submoduleNames(gitDir: string, commit: string): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  const argv = ['git', '--git-dir', gitDir, 'config', '--blob', `${commit}:.gitmodules`, '--null'];
  let out: string;
  try {
    out = await run([...argv, '--get-regexp', '^submodule\\..*\\.path$'], { cwd: path.dirname(gitDir) });
  } catch {
    return names; // no .gitmodules, or no path in it
  }
  for (const entry of out.split('\0').filter(Boolean)) {
    // "submodule.<name>.path\n<path>"
    const [key = '', value = ''] = entry.split('\n');
    names.set(value, key.slice('submodule.'.length, -'.path'.length));
  }
  return names;
}

/**
 * Where a repository keeps the repository of its submodule `name`: `<git dir>/modules/<name>`
 * (per worktree), absolute. It may not exist: the submodule was never initialised.
 */
export async function submoduleGitDir(gitDir: string, name: string): Promise<string> {
  const cwd = path.dirname(gitDir);
  const out = await run(['git', '--git-dir', gitDir, 'rev-parse', '--git-path', `modules/${name}`], { cwd });
  return path.resolve(cwd, out.trim());
}

/** Whether the repository at `gitDir` (a directory or a `.git` file) holds the commit. */
export function hasCommit(gitDir: string, commit: string): Promise<boolean> {
  return succeeds(['git', '--git-dir', gitDir, 'cat-file', '-e', `${commit}^{commit}`], {
    cwd: path.dirname(gitDir),
  });
}

/** Writes `commit`'s tree as a tar to `out` (`git archive`: no .git, export-ignore honoured). */
export async function archiveCommit(gitDir: string, commit: string, out: string): Promise<void> {
  await run(['git', '--git-dir', gitDir, 'archive', '--format=tar', '-o', out, commit], {
    cwd: path.dirname(gitDir),
  });
}

export interface TagInfo {
  version: string;
  date: string;
  commit: string;
}

export async function listTags(repo: string): Promise<TagInfo[]> {
  const format =
    '%(refname:strip=2) %(creatordate:iso-strict) %(if)%(*objectname)%(then)%(*objectname)%(else)%(objectname)%(end)';
  const out = await run(['git', 'for-each-ref', '--sort=-creatordate', `--format=${format}`, 'refs/tags'], {
    cwd: repo,
  });
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [version = '', date = '', commit = ''] = line.split(' ');
      return { version, date, commit: commit.slice(0, 12) };
    });
}

export async function repoRoot(dir: string): Promise<string> {
  try {
    return (await run(['git', 'rev-parse', '--show-toplevel'], { cwd: dir })).trim();
  } catch (err) {
    throw new FleetError('FLEET_NOT_A_REPO', `${dir} is not inside a git repository`, {
      hint: 'run pier release in the app repository, or pass --repo DIR',
      cause: err,
    });
  }
}
