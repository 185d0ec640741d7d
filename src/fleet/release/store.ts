// The local release store under <repo>/.pier/: artifacts named by their SHA-256, one manifest
// per version, and the journals and reports of deploys. It holds a .gitignore of its own (`*`,
// as Python's venv and pytest's cache do), so that git leaves it out in any repository without
// an edit to the repository's own .gitignore: `git status` stays clean for `pier release`, and
// no artifact is committed by mistake.
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RuntimeInfo } from './runtime.js';

export interface ReleaseManifest {
  version: string;
  commit: string;
  sha256: string;
  size: number;
  /** Relative to the store. */
  artifact: string;
  builtAt: string;
  /** The Node that built it; absent in manifests written before runtimes were recorded. */
  runtime?: RuntimeInfo | undefined;
}

export class ReleaseStore {
  readonly root: string;
  constructor(repo: string) {
    this.root = path.join(repo, '.pier');
  }

  artifactPath(sha256: string): string {
    return path.join(this.root, 'artifacts', `${sha256}.tar.gz`);
  }

  manifestPath(version: string): string {
    return path.join(this.root, 'releases', `${version}.json`);
  }

  deploysDir(): string {
    return path.join(this.root, 'deploys');
  }

  /** Makes `<root>/<sub>` (and the store with its .gitignore) if missing; returns its path. */
  async makeDir(sub: 'artifacts' | 'releases' | 'deploys'): Promise<string> {
    await mkdir(this.root, { recursive: true });
    await writeFile(path.join(this.root, '.gitignore'), "# pier's local store: never committed\n*\n", {
      flag: 'wx',
    }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    const dir = path.join(this.root, sub);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  async readManifest(version: string): Promise<ReleaseManifest | undefined> {
    try {
      return JSON.parse(await readFile(this.manifestPath(version), 'utf8')) as ReleaseManifest;
    } catch {
      return undefined;
    }
  }

  async writeManifest(manifest: ReleaseManifest): Promise<void> {
    const file = this.manifestPath(manifest.version);
    await this.makeDir('releases');
    await writeFile(`${file}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
    await rename(`${file}.tmp`, file);
  }

  async manifests(): Promise<ReleaseManifest[]> {
    const dir = path.join(this.root, 'releases');
    const names = await readdir(dir).catch(() => [] as string[]);
    const out: ReleaseManifest[] = [];
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      const manifest = await this.readManifest(name.slice(0, -'.json'.length));
      if (manifest) out.push(manifest);
    }
    return out;
  }
}
