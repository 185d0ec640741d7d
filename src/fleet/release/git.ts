// The git questions and actions a release needs, as argv arrays run in the repository.
import { FleetError } from '../errors.js';
import { run, succeeds } from './run.js';

export async function dirtyFiles(repo: string): Promise<string[]> {
  const out = await run(['git', 'status', '--porcelain'], { cwd: repo });
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
