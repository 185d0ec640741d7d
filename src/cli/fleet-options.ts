// What the fleet commands share: the common flags, and turning them plus deploy/fleet.yml into
// a session (validated fleet, SSH pool, release store). The only fleet code that reads the
// environment (home directory, $SSH_AUTH_SOCK, user and host names).
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { parse } from 'yaml';
import { FleetError } from '../fleet/errors.js';
import { type Selection, selectHosts } from '../fleet/inventory/filter.js';
import type { Datacenter, Fleet } from '../fleet/inventory/inventory.js';
import { loadFleet } from '../fleet/inventory/load.js';
import type { Amount } from '../fleet/inventory/schema.js';
import { repoRoot } from '../fleet/release/git.js';
import type { RuntimeMode } from '../fleet/release/runtime.js';
import { ReleaseStore } from '../fleet/release/store.js';
import type { SecretSources } from '../fleet/secrets.js';
import type { FleetSession } from '../fleet/session.js';
import { ConnectionPool, readSshFiles } from '../fleet/ssh/connection-pool.js';
import { parseKnownHosts } from '../fleet/ssh/known-hosts.js';
import { KnownHostsIndex } from '../fleet/ssh/known-hosts-index.js';

export interface FleetFlags {
  config?: string;
  repo?: string;
  dc?: string[];
  hosts?: string[];
  identity?: string;
  knownHosts?: string;
}

const list = (value: string, previous: string[] = []): string[] => [
  ...previous,
  ...value.split(',').filter(Boolean),
];

export function withFleetFlags(command: Command, options: { select?: boolean } = {}): Command {
  command
    .option('-c, --config <file>', 'fleet inventory (default: deploy/fleet.yml in the repository)')
    .option('--repo <dir>', 'the app repository (default: the git repository around the current directory)')
    .option('-i, --identity <file>', 'SSH private key (overrides ssh.identity)')
    .option('--known-hosts <file>', 'known_hosts file (overrides ssh.known_hosts)');
  if (options.select !== false) {
    command
      .option('--dc <names>', 'only these data centers (comma-separated, repeatable)', list)
      .option('--hosts <patterns>', 'only these hosts: names, ranges web[01:10].ams, globs web*', list);
  }
  return command;
}

/** "3" → a count, "10%" → a share. */
export function parseAmount(raw: string): Amount {
  if (/^\d+$/.test(raw)) return { kind: 'count', value: Number(raw) };
  if (/^\d+(\.\d+)?%$/.test(raw)) {
    const value = Number.parseFloat(raw);
    if (value > 100)
      throw new InvalidArgumentError(`a percentage of the hosts is at most 100%, got "${raw}"`);
    return { kind: 'percent', value };
  }
  throw new InvalidArgumentError(`expected a count like 2 or a percentage like 10%, got "${raw}"`);
}

export async function findRepo(flags: FleetFlags, required: boolean): Promise<string> {
  const dir = path.resolve(flags.repo ?? '.');
  if (!required) return repoRoot(dir).catch(() => dir);
  return repoRoot(dir);
}

function expandPath(file: string, base: string): string {
  if (file === '~' || file.startsWith('~/')) return path.join(os.homedir(), file.slice(1));
  return path.resolve(base, file);
}

/**
 * deploy/fleet.yml, validated. `secrets`: resolve service.env from this controller's environment
 * and files (deploy only; an unset `${NAME}` is an error naming it, before any host is contacted).
 */
export async function loadFleetFor(
  flags: FleetFlags,
  repo: string,
  options: { secrets?: boolean } = {},
): Promise<{ fleet: Fleet; file: string }> {
  const file = path.resolve(flags.config ?? path.join(repo, 'deploy', 'fleet.yml'));
  if (!existsSync(file)) {
    throw new FleetError('FLEET_CONFIG', `no fleet inventory at ${file}`, {
      hint: 'create deploy/fleet.yml (see docs/fleet.md) or pass --config FILE',
      exitCode: 2,
    });
  }
  const sources: SecretSources | undefined = options.secrets
    ? {
        env: process.env,
        readFile: (name) => readFileSync(name, 'utf8'),
        home: os.homedir(),
        repo,
      }
    : undefined;
  return { fleet: await loadFleet(file, sources), file };
}

/**
 * The runtime mode a release is built for: `--runtime`, else fleet.yml's `runtime` (only that key
 * is read, so a release does not depend on the rest of the inventory), else `bundled`.
 */
export async function runtimeFor(
  flags: FleetFlags & { runtime?: string },
  repo: string,
): Promise<RuntimeMode> {
  const modes = ['bundled', 'host'];
  let chosen = flags.runtime;
  let where = '--runtime';
  if (chosen === undefined) {
    const file = path.resolve(flags.config ?? path.join(repo, 'deploy', 'fleet.yml'));
    if (!existsSync(file)) return 'bundled';
    const value = (parse(await readFile(file, 'utf8')) as { runtime?: unknown } | null)?.runtime;
    if (value === undefined) return 'bundled';
    chosen = String(value);
    where = `${file}: runtime`;
  }
  if (!modes.includes(chosen)) {
    throw new FleetError('FLEET_CONFIG', `${where}: expected bundled or host, got "${chosen}"`, {
      exitCode: 2,
    });
  }
  return chosen as RuntimeMode;
}

/** `file` as journals name it: relative to the repository, with `/`; absolute outside it. */
export function fleetFileName(file: string, repo: string): string {
  const relative = path.relative(repo, file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative.split(path.sep).join('/');
}

export function selection(fleet: Fleet, flags: FleetFlags): Datacenter[] {
  const wanted: Selection = { dcs: flags.dc, hosts: flags.hosts };
  return selectHosts(fleet, wanted);
}

export async function openSession(
  flags: FleetFlags,
  options: { repoRequired: boolean; secrets?: boolean },
): Promise<FleetSession & { knownHostsFile: string }> {
  const repo = await findRepo(flags, options.repoRequired);
  const { fleet, file } = await loadFleetFor(flags, repo, { secrets: options.secrets === true });
  const identityFile = flags.identity ?? fleet.ssh.identity;
  const identity = identityFile === undefined ? undefined : expandPath(identityFile, repo);
  const knownHostsFile = expandPath(flags.knownHosts ?? fleet.ssh.known_hosts, repo);
  const files = await readSshFiles(identity, knownHostsFile);
  const pool = new ConnectionPool({
    user: fleet.ssh.user,
    privateKey: files.privateKey,
    agent: fleet.ssh.agent ? process.env.SSH_AUTH_SOCK : undefined,
    knownHosts: new KnownHostsIndex(parseKnownHosts(files.knownHostsText)),
    knownHostsFile,
    strictHostKeys: fleet.ssh.strict_host_keys,
    connectTimeoutMs: fleet.ssh.connect_timeout,
    commandTimeoutMs: fleet.ssh.command_timeout,
    handshakeConcurrency: fleet.ssh.handshake_concurrency,
    maxOpen: fleet.ssh.max_open,
  });
  return {
    repo,
    fleet,
    fleetFile: fleetFileName(file, repo),
    pool,
    store: new ReleaseStore(repo),
    owner: `${os.userInfo().username}@${os.hostname()}`,
    out: process.stdout,
    tty: process.stdout.isTTY === true,
    knownHostsFile,
  };
}
