// The local release store under <repo>/.pier/ (gitignored): artifacts named by their SHA-256,
// one manifest per version, and the journals and reports of deploys.
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

  async readManifest(version: string): Promise<ReleaseManifest | undefined> {
    try {
      return JSON.parse(await readFile(this.manifestPath(version), 'utf8')) as ReleaseManifest;
    } catch {
      return undefined;
    }
  }

  async writeManifest(manifest: ReleaseManifest): Promise<void> {
    const file = this.manifestPath(manifest.version);
    await mkdir(path.dirname(file), { recursive: true });
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
