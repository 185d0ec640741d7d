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

/** uname(1)'s machine names → Node's `process.arch` names. */
const archOfMachine: Readonly<Record<string, string>> = {
  x86_64: 'x64',
  amd64: 'x64',
  aarch64: 'arm64',
  arm64: 'arm64',
  armv6l: 'arm',
  armv7l: 'arm',
  i386: 'ia32',
  i686: 'ia32',
  ppc64le: 'ppc64',
  s390x: 's390x',
  riscv64: 'riscv64',
  loongarch64: 'loong64',
};

/** The host's Node as the stage probe found it (commands/stage.ts cachedHostRuntime). */
export interface HostRuntime {
  /** `v20.20.2` */
  node: string;
  /** Known only from a line an older pier cached (`node -p`'s answer). */
  modules?: string;
  platform: string;
  arch: string;
}

/**
 * The probe's line → the host's Node, or undefined when it printed nothing (no `node`). The
 * line is `node --version` then `uname -sm` (`v20.20.2 Linux x86_64`: sysname lowercased is
 * Node's platform name, the machine maps to its arch name, an unknown one stays as it is), or
 * from a cache an older pier wrote, `VERSION ABI PLATFORM ARCH`.
 */
export function parseHostRuntime(line: string): HostRuntime | undefined {
  const fields = line.trim().split(/\s+/);
  const [node = '', second = '', third = '', fourth = ''] = fields;
  if (!/^v\d+\./.test(node)) return undefined;
  if (fields.length >= 4 && /^\d+$/.test(second))
    return { node, modules: second, platform: third, arch: fourth };
  return { node, platform: second.toLowerCase(), arch: archOfMachine[third] ?? third };
}

const major = (version: string): string => /^v(\d+)\./.exec(version)?.[1] ?? version;

/**
 * The probe's line (parseHostRuntime) → why the host's Node cannot load this release's native
 * addons, or undefined when it can: the same ABI (NODE_MODULE_VERSION, which Node changes with
 * each major release and never within one, so the same major version means the same ABI),
 * platform and arch as the Node that built the release. A 32-bit Node on a 64-bit kernel is
 * taken for the kernel's arch.
 */
export function runtimeProblem(built: RuntimeInfo, hostLine: string): string | undefined {
  const host = parseHostRuntime(hostLine);
  if (host === undefined) return `no node on the host's PATH (the release was built with Node ${built.node})`;
  const sameAbi =
    host.modules !== undefined ? host.modules === built.modules : major(host.node) === major(built.node);
  if (sameAbi && host.platform === built.platform && host.arch === built.arch) return undefined;
  const abi = host.modules !== undefined ? `ABI ${host.modules}, ` : '';
  return `the host's Node ${host.node} (${abi}${host.platform}-${host.arch}) cannot load this release's native addons, built with Node ${built.node} (ABI ${built.modules}, ${built.platform}-${built.arch})`;
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
