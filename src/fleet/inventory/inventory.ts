// The validated fleet: the schema's output with host ranges expanded, per-DC and per-host vars
// merged onto the ssh defaults, and data centers in rollout order. Pure; errors name their path.
import path from 'node:path';
import type { HookPoint } from '../commands/hooks.js';
import type { SharedPaths } from '../commands/shared.js';
import { type ReleaseEnv, resolveEnv, type SecretSources } from '../secrets.js';
import { expandHostRange, HostRangeError, isRange } from './host-range.js';
import type { Amount, FleetFile } from './schema.js';

export interface Jump {
  user: string;
  host: string;
  port: number;
}

export interface Host {
  name: string;
  dc: string;
  /** Where the controller connects. */
  address: string;
  /** Where the other hosts of the data center reach this one (artifact relay). */
  internalAddress: string;
  port: number;
  user: string;
  deployTo: string;
  proxyJump: Jump | undefined;
  /** Steps that need root go through `sudo -n` (ssh.sudo, per data center or host). */
  sudo: boolean;
}

export interface Datacenter {
  name: string;
  canary: Amount;
  window: Amount;
  failureBudget: Amount;
  hosts: Host[];
}

/** fleet.yml `hooks`, every point a list (empty when unset). */
export type Hooks = Record<HookPoint | 'pre_deploy' | 'post_deploy', string[]> & {
  /** One remote hook command's limit, ms (hooks.timeout, else ssh.command_timeout). */
  timeoutMs: number;
};

export interface Fleet {
  app: string;
  keepReleases: number;
  lockTtlMs: number;
  runtime: FleetFile['runtime'];
  setup: FleetFile['setup'];
  ssh: FleetFile['ssh'];
  service: FleetFile['service'] & { name: string };
  health: FleetFile['health'];
  rollout: FleetFile['rollout'];
  /** shared.dirs and shared.files, service.env_file among the files. */
  shared: SharedPaths;
  hooks: Hooks;
  /** service.env: what may be shown, and the values once resolved on the controller. */
  env: ReleaseEnv;
  /** In rollout order (`rollout.dc_order`, then the file's order). */
  datacenters: Datacenter[];
  hosts: Host[];
}

export interface ConfigIssue {
  path: PropertyKey[];
  message: string;
}

export class InventoryIssues extends Error {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super(issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`).join('\n'));
    this.issues = issues;
  }
}

/** `['datacenters', 'ams', 'hosts', 3, 'port']` → `datacenters.ams.hosts[3].port` */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) =>
      typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`,
    )
    .join('');
}

export function parseJump(text: string, defaultUser: string): Jump {
  const match = /^(?:([^@]+)@)?([^:]+)(?::(\d+))?$/.exec(text);
  return { user: match?.[1] ?? defaultUser, host: match?.[2] ?? text, port: Number(match?.[3] ?? 22) };
}

/**
 * Where a host's deploys land: its address and port as written (names are not resolved), the
 * jump host it is reached through (one private address may be a different machine behind each
 * bastion) and its deploy_to. Not the login user: the same path is the same directory for all.
 */
function targetOf(host: Host): string {
  const jump = host.proxyJump ? `${host.proxyJump.host.toLowerCase()}:${host.proxyJump.port}` : '';
  const dir = path.posix.normalize(host.deployTo).replace(/(.)\/+$/, '$1');
  return `${host.address.toLowerCase()}:${host.port} via ${jump} ${dir}`;
}

/**
 * `sources`: where `${NAME}` and `{ file: }` values of service.env come from (deploy); without
 * them the values are left unresolved (commands that never start the app need none).
 */
export function resolveFleet(file: FleetFile, sources?: SecretSources): Fleet {
  const issues: ConfigIssue[] = [];
  const deployTo = file.deploy_to ?? `/opt/${file.app}`;
  const seen = new Map<string, string>();
  const targets = new Map<string, { name: string; at: string }>();
  const datacenters: Datacenter[] = [];
  for (const [dcName, dc] of Object.entries(file.datacenters)) {
    const hosts: Host[] = [];
    dc.hosts.forEach((entry, index) => {
      const spec = typeof entry === 'string' ? { name: entry } : entry;
      const at = ['datacenters', dcName, 'hosts', index];
      let names: string[];
      try {
        names = expandHostRange(spec.name);
      } catch (err) {
        if (!(err instanceof HostRangeError)) throw err;
        issues.push({ path: typeof entry === 'string' ? at : [...at, 'name'], message: err.message });
        return;
      }
      if (isRange(spec.name) && ('address' in spec || 'internal_address' in spec)) {
        issues.push({ path: [...at, 'address'], message: 'a host range cannot share one address' });
        return;
      }
      const user = spec.user ?? dc.vars?.user ?? file.ssh.user;
      const jump = spec.proxy_jump ?? dc.vars?.proxy_jump ?? file.ssh.proxy_jump;
      for (const name of names) {
        const other = seen.get(name);
        if (other !== undefined) {
          issues.push({ path: at, message: `host "${name}" is listed twice (also at ${other})` });
          continue;
        }
        seen.set(name, formatPath(at));
        const address = ('address' in spec ? spec.address : undefined) ?? name;
        const host: Host = {
          name,
          dc: dcName,
          address,
          internalAddress: ('internal_address' in spec ? spec.internal_address : undefined) ?? address,
          port: spec.port ?? dc.vars?.port ?? file.ssh.port,
          user,
          deployTo: spec.deploy_to ?? dc.vars?.deploy_to ?? deployTo,
          proxyJump: jump === undefined ? undefined : parseJump(jump, user),
          sudo: spec.sudo ?? dc.vars?.sudo ?? file.ssh.sudo,
        };
        // Two entries for one directory on one machine would run two rollouts of it at once
        // under one deploy id (their locks do not tell them apart): two processes fighting for
        // its `current` and its port.
        const target = targetOf(host);
        const same = targets.get(target);
        if (same !== undefined) {
          issues.push({
            path: at,
            message: `host "${name}" has the same target as "${same.name}" (${host.address}:${host.port}, deploy_to ${host.deployTo}; also at ${same.at})`,
          });
          continue;
        }
        targets.set(target, { name, at: formatPath(at) });
        hosts.push(host);
      }
    });
    datacenters.push({
      name: dcName,
      canary: dc.rollout?.canary ?? file.rollout.canary,
      window: dc.rollout?.window ?? file.rollout.window,
      failureBudget: dc.rollout?.failure_budget ?? file.rollout.failure_budget,
      hosts,
    });
  }
  const order = file.rollout.dc_order ?? [];
  order.forEach((name, index) => {
    if (!(name in file.datacenters)) {
      issues.push({
        path: ['rollout', 'dc_order', index],
        message: `unknown data center "${name}" (have: ${Object.keys(file.datacenters).join(', ')})`,
      });
    }
  });
  const shared = sharedPaths(file, issues);
  const { env, issues: envIssues } = resolveEnv(file.service.env, sources);
  for (const issue of envIssues) issues.push({ path: ['service', 'env', issue.key], message: issue.message });
  if (issues.length > 0) throw new InventoryIssues(issues);
  const rank = (name: string): number => {
    const at = order.indexOf(name);
    return at === -1 ? order.length : at;
  };
  datacenters.sort((a, b) => rank(a.name) - rank(b.name));
  return {
    app: file.app,
    keepReleases: file.keep_releases,
    lockTtlMs: file.lock_ttl,
    runtime: file.runtime,
    setup: file.setup,
    ssh: file.ssh,
    service: { ...file.service, name: file.service.name ?? file.app },
    health: file.health,
    rollout: file.rollout,
    shared,
    hooks: {
      after_stage: file.hooks.after_stage ?? [],
      once: file.hooks.once ?? [],
      before_activate: file.hooks.before_activate ?? [],
      after_activate: file.hooks.after_activate ?? [],
      pre_deploy: file.hooks.pre_deploy ?? [],
      post_deploy: file.hooks.post_deploy ?? [],
      timeoutMs: file.hooks.timeout ?? file.ssh.command_timeout,
    },
    env,
    datacenters,
    hosts: datacenters.flatMap((dc) => dc.hosts),
  };
}

/**
 * shared.dirs and shared.files with service.env_file added to the files. A path inside another
 * (`config` and `config/local.json`) is refused: the inner link would be made inside shared/
 * itself. So is the pidfile of service manager none (`<name>.pid` in shared/).
 */
function sharedPaths(file: FleetFile, issues: ConfigIssue[]): SharedPaths {
  const envFile = file.service.env_file;
  const files = [...file.shared.files];
  if (envFile !== undefined && !files.includes(envFile)) files.push(envFile);
  const all = [
    ...file.shared.dirs.map((value, index) => ({ value, path: ['shared', 'dirs', index] })),
    ...files.map((value, index) => ({
      value,
      path: index < file.shared.files.length ? ['shared', 'files', index] : ['service', 'env_file'],
    })),
  ];
  const pidFile = `${file.service.name ?? file.app}.pid`;
  all.forEach((entry, index) => {
    if (entry.value === pidFile) {
      issues.push({
        path: entry.path,
        message: `shared/${pidFile} is the pidfile of the service: use another name`,
      });
    }
    for (const other of all.slice(0, index)) {
      const [outer, inner] = other.value.length <= entry.value.length ? [other, entry] : [entry, other];
      if (inner.value === outer.value) {
        issues.push({ path: entry.path, message: `"${entry.value}" is listed twice` });
      } else if (inner.value.startsWith(`${outer.value}/`)) {
        issues.push({
          path: entry.path,
          message: `"${inner.value}" is inside the shared "${outer.value}": list only "${outer.value}"`,
        });
      }
    }
  });
  return { dirs: file.shared.dirs, files };
}
