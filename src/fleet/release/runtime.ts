// The Node runtime a release runs on. Native addons that `npm ci` compiled on the controller
// work only with a Node of the same ABI (`process.versions.modules`), platform and arch, so an
// artifact records the Node that built it in `.pier-runtime/runtime.json`, and with
// `runtime: bundled` carries that very binary as `.pier-runtime/bin/node`.
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runtimeDir } from '../commands/layout.js';
import { FleetError } from '../errors.js';

export type RuntimeMode = 'bundled' | 'host';

export interface RuntimeInfo {
  /** `v20.20.2` */
  node: string;
  /** Node's ABI version (`process.versions.modules`, e.g. "115"). */
  modules: string;
  platform: string;
  arch: string;
  bundled: boolean;
}

/** The Node running this process: the one that ran `npm ci` for the artifact. */
export function buildRuntime(mode: RuntimeMode): RuntimeInfo {
  return {
    node: process.version,
    modules: process.versions.modules,
    platform: process.platform,
    arch: process.arch,
    bundled: mode === 'bundled',
  };
}

/**
 * Writes `.pier-runtime/runtime.json` into the app tree, and the Node binary itself when
 * bundled. The file's bytes depend only on the Node version, so the artifact stays reproducible.
 */
export async function addRuntime(app: string, mode: RuntimeMode): Promise<RuntimeInfo> {
  const info = buildRuntime(mode);
  const dir = path.join(app, runtimeDir);
  await mkdir(path.join(dir, 'bin'), { recursive: true });
  await writeFile(path.join(dir, 'runtime.json'), `${JSON.stringify(info)}\n`);
  if (mode === 'bundled') {
    const node = path.join(dir, 'bin', 'node');
    await copyFile(process.execPath, node);
    await chmod(node, 0o755);
  }
  return info;
}

/** `115 linux x64` as printed by the host's node (see runtimeProbe) → a problem, or undefined. */
export function runtimeProblem(built: RuntimeInfo, hostLine: string): string | undefined {
  const [version, modules, platform, arch] = hostLine.trim().split(' ');
  if (!modules) return `no node on the host's PATH (the release was built with Node ${built.node})`;
  if (modules !== built.modules || platform !== built.platform || arch !== built.arch) {
    return `the host's Node ${version} (ABI ${modules}, ${platform}-${arch}) cannot load this release's native addons, built with Node ${built.node} (ABI ${built.modules}, ${built.platform}-${built.arch})`;
  }
  return undefined;
}

/** A stored artifact built for another runtime mode than fleet.yml asks for. */
export function checkRuntimeMode(version: string, built: RuntimeInfo | undefined, mode: RuntimeMode): void {
  if (built === undefined || built.bundled === (mode === 'bundled')) return;
  throw new FleetError(
    'FLEET_RUNTIME_MODE',
    `release ${version} was built with runtime: ${built.bundled ? 'bundled' : 'host'}, but fleet.yml says runtime: ${mode}`,
    { hint: 'release a new version after changing runtime (a version is one immutable artifact)' },
  );
}
