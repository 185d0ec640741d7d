// A plain git repository for tests that need more than the app (a submodule's origin, a clone):
// committer identity and unsigned tags set, files written from a name → text map.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface GitRepo {
  dir: string;
  git(...args: string[]): string;
  /** Writes each file (parents created) and commits everything with `message`. */
  commit(message: string, files?: Record<string, string | Buffer>): void;
  cleanup(): void;
}

/** Lets `git submodule add/update` clone from a local path (git ≥ 2.38.1 refuses by default). */
export const fileProtocol = ['-c', 'protocol.file.allow=always'];

export function gitIn(dir: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Sets what committing and tagging need in a repository made by `git clone`. */
export function configureIdentity(dir: string): void {
  gitIn(dir, 'config', 'user.email', 'test@example.net');
  gitIn(dir, 'config', 'user.name', 'Fleet Test');
  gitIn(dir, 'config', 'tag.gpgSign', 'false');
  gitIn(dir, 'config', 'commit.gpgSign', 'false');
}

export function createGitRepo(prefix: string): GitRepo {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const git = (...args: string[]) => gitIn(dir, ...args);
  git('init', '-q', '-b', 'main');
  configureIdentity(dir);
  return {
    dir,
    git,
    commit(message, files = {}) {
      for (const [name, content] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        writeFileSync(path.join(dir, name), content);
      }
      git('add', '-A');
      git('commit', '-q', '-m', message);
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
