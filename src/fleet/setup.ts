// `pier setup`: a bare host made ready for `pier deploy` in one SSH round trip (Kamal's
// `kamal setup`, Capistrano's `deploy:check`). The items, in the order they run, are listed once
// in `setupItems`; `--check` probes the same list and changes nothing. Idempotent: a host that
// has everything reports "unchanged".
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { codeOf, hintOf } from '../common/coded-error.js';
import { counted } from '../common/counted.js';
import { layoutOf, runtimeDir } from './commands/layout.js';
import { asRoot, refusedCommand, rootTools, sudoRefusedExit } from './commands/privilege.js';
import {
  checkScript,
  deployToItem,
  enabledItem,
  type ItemState,
  nginxLinkItem,
  noDefaultSiteItem,
  parseSetupOutput,
  rootFileItem,
  type SetupItem,
  serviceUserItem,
  setupScript,
  sharedDirItem,
  sharedFileItem,
  sudoAllows,
  sudoRightItem,
  toolItem,
} from './commands/setup.js';
import { all, remotePath } from './commands/shell.js';
import { deployCommands, sudoersDropIn } from './commands/sudoers.js';
import { unitDir, unitFileName } from './commands/unit.js';
import { describeError, FleetError } from './errors.js';
import type { Datacenter, Fleet, Host } from './inventory/inventory.js';
import { Limiter } from './limiter.js';
import { groupedFailures } from './report/summary.js';
import type { FleetSession } from './session.js';

/** Files from the repository's working tree that setup places on hosts. */
export interface SetupFiles {
  /** Unit file name in /etc/systemd/system → its text. */
  units: Map<string, string>;
  nginxSite: string | undefined;
}

/** Reads the units and nginx site fleet.yml names; a missing file is an error naming the key. */
export async function readSetupFiles(repo: string, fleet: Fleet): Promise<SetupFiles> {
  const units = new Map<string, string>();
  const { service, setup } = fleet;
  const unitPaths = setup.units ?? (service.manager === 'systemd' && service.unit ? [service.unit] : []);
  const read = async (key: string, file: string): Promise<string> => {
    const full = path.join(repo, file);
    if (!existsSync(full)) {
      throw new FleetError('FLEET_CONFIG', `${key}: ${file} is not in the repository`, {
        hint: '`pier init` writes deploy/systemd/ and deploy/nginx/; or fix the path',
        exitCode: 2,
      });
    }
    return readFile(full, 'utf8');
  };
  for (const file of unitPaths) {
    const name = file === service.unit ? unitFileName(service.name) : path.basename(file);
    units.set(name, await read(setup.units ? 'setup.units' : 'service.unit', file));
  }
  const nginxSite = setup.nginx_site ? await read('setup.nginx_site', setup.nginx_site) : undefined;
  return { units, nginxSite };
}

/** The drop-in that puts the release's bundled Node first on the service's PATH. */
export function runtimeDropIn(host: Host): string {
  const bin = path.posix.join(layoutOf(host.deployTo).current, runtimeDir, 'bin');
  return `# Written by pier setup (runtime: bundled): the release's own Node comes first.\n[Service]\nEnvironment=PATH=${bin}:${remotePath}\n`;
}

/**
 * Everything a host needs, in the order setup provides it: programs the later steps call, the
 * deploy_to tree, the service's user, systemd units (and the bundled runtime's drop-in), the
 * nginx site, the sudoers drop-in, the sudo rights a deploy will use, and last the shared
 * directories (made) and shared files (checked: the operator puts them there).
 */
export function setupItems(fleet: Fleet, host: Host, files: SetupFiles): SetupItem[] {
  const { service, setup } = fleet;
  const root = asRoot(host.sudo);
  const layout = layoutOf(host.deployTo);
  const reload = root([rootTools.systemctl, 'daemon-reload']);
  const items: SetupItem[] = [
    ...[
      ['tar', 'tar'],
      ['gzip', 'gzip'],
      ['sha256sum', 'coreutils'],
      ['base64', 'coreutils'],
      ['curl', 'curl'],
      ['bash', 'bash'],
      ['timeout', 'coreutils'],
    ].map(([program, pkg]) => toolItem(program as string, pkg as string)),
    service.manager === 'systemd' ? toolItem('systemctl', 'systemd') : toolItem('setsid', 'util-linux'),
    ...(host.sudo ? [toolItem('sudo', 'sudo')] : []),
    ...(fleet.runtime === 'host' ? [toolItem('node', 'nodejs')] : []),
    ...(files.nginxSite !== undefined ? [toolItem('nginx', 'nginx')] : []),
    deployToItem(layout, host.user, root),
  ];
  if (service.user) items.push(serviceUserItem(service.user, root));
  if (service.manager === 'systemd') {
    for (const [name, content] of files.units) {
      items.push(
        rootFileItem({
          id: `unit-${name}`,
          what: `${unitDir}/${name}`,
          target: `${unitDir}/${name}`,
          content,
          mode: '0644',
          layout,
          root,
          after: reload,
        }),
      );
    }
    const unit = unitFileName(service.name);
    if (fleet.runtime === 'bundled') {
      items.push(
        rootFileItem({
          id: 'runtime-drop-in',
          what: `${unitDir}/${unit}.d/pier-runtime.conf`,
          target: `${unitDir}/${unit}.d/pier-runtime.conf`,
          content: runtimeDropIn(host),
          mode: '0644',
          layout,
          root,
          after: reload,
        }),
      );
    }
    if (files.units.has(unit)) items.push(enabledItem(unit, root));
  }
  if (files.nginxSite !== undefined) {
    items.push(
      rootFileItem({
        id: 'nginx-site',
        what: `/etc/nginx/sites-available/${fleet.app}.conf`,
        target: `/etc/nginx/sites-available/${fleet.app}.conf`,
        content: files.nginxSite,
        mode: '0644',
        layout,
        root,
      }),
      nginxLinkItem(fleet.app, root),
    );
    if (setup.disable_default_site) items.push(noDefaultSiteItem(root));
  }
  const target = { user: host.user, deployTo: host.deployTo, service };
  const dropIn = sudoersDropIn(fleet.app, target);
  if (setup.sudoers && host.sudo && host.user !== 'root' && dropIn !== undefined) {
    items.push(
      rootFileItem({
        id: 'sudoers',
        what: `/etc/sudoers.d/pier-${fleet.app}`,
        target: `/etc/sudoers.d/pier-${fleet.app}`,
        content: dropIn,
        mode: '0440',
        layout,
        root,
        check: (file) => [rootTools.visudo, '-c', '-q', '-f', file],
        unreadable: all(...deployCommands(target, 'pier-check').map(sudoAllows)),
      }),
    );
  }
  if (host.sudo && host.user !== 'root') {
    // A concrete version stands for the wildcard: `sudo -l` answers for a real command line.
    for (const argv of deployCommands(target, 'pier-check')) items.push(sudoRightItem(argv, host.user));
  }
  // Last, so that a missing file (which only the operator can put there) stops nothing else.
  const appUser =
    service.manager === 'systemd' && service.user !== undefined && service.user !== host.user
      ? { user: service.user, owner: host.user, root }
      : undefined;
  for (const dir of fleet.shared.dirs) items.push(sharedDirItem(layout, dir, appUser));
  for (const file of fleet.shared.files) items.push(sharedFileItem(layout, file));
  return items;
}

export interface SetupHostResult {
  host: Host;
  /** `unchanged`: had everything; `lacking`: --check found items missing. */
  state: 'unchanged' | 'changed' | 'lacking' | 'failed';
  changed: string[];
  lacking: string[];
  error: string | undefined;
  code: string | undefined;
  /** What to do about `error`, when its error said (an unknown host key: `pier trust`). */
  hint?: string | undefined;
}

export interface SetupResult {
  check: boolean;
  hosts: SetupHostResult[];
  interrupted: boolean;
}

export interface SetupRequest {
  selection: Datacenter[];
  check: boolean;
  concurrency: number;
  files: SetupFiles;
  signal?: AbortSignal | undefined;
  onHost?: (result: SetupHostResult) => void;
}

export async function setupFleet(session: FleetSession, request: SetupRequest): Promise<SetupResult> {
  const limiter = new Limiter(request.concurrency);
  const hosts = request.selection.flatMap((dc) => dc.hosts);
  const results: SetupHostResult[] = [];
  await Promise.all(
    hosts.map((host) =>
      limiter.run(async () => {
        if (request.signal?.aborted) return;
        const result = await setupHost(session, host, request);
        results.push(result);
        request.onHost?.(result);
      }),
    ),
  );
  const order = new Map(hosts.map((host, index) => [host.name, index]));
  results.sort((a, b) => (order.get(a.host.name) ?? 0) - (order.get(b.host.name) ?? 0));
  return { check: request.check, hosts: results, interrupted: request.signal?.aborted === true };
}

async function setupHost(session: FleetSession, host: Host, request: SetupRequest): Promise<SetupHostResult> {
  const items = setupItems(session.fleet, host, request.files);
  const byId = new Map(items.map((item) => [item.id, item]));
  const result: SetupHostResult = {
    host,
    state: 'unchanged',
    changed: [],
    lacking: [],
    error: undefined,
    code: undefined,
  };
  try {
    const connection = await session.pool.connection(host);
    const run = await connection.exec(request.check ? checkScript(items) : setupScript(items));
    const lines = parseSetupOutput(run.stdout);
    const seen = (state: ItemState) => lines.filter((line) => line.state === state).map((line) => line.id);
    result.changed = seen('changed').map((id) => byId.get(id)?.what ?? id);
    result.lacking = seen('lacks').map((id) => byId.get(id)?.what ?? id);
    const failed = seen('failed')[0] ?? (request.check ? undefined : seen('lacks')[0]);
    if (failed !== undefined) {
      const item = byId.get(failed);
      const refused = refusedCommand(run.stdout);
      result.state = 'failed';
      if (refused !== undefined || run.code === sudoRefusedExit) {
        result.code = 'FLEET_SUDO';
        result.error = `${item?.what ?? failed}: sudo -n refused \`${refused ?? 'a command'}\`; setup needs passwordless sudo for it (or run setup once as root with ssh.user: root)`;
      } else {
        const said = run.stderr.trim().split('\n').filter(Boolean).slice(-1)[0];
        result.code = 'FLEET_SETUP';
        result.error =
          `${item?.what ?? failed}: ${seen('lacks').includes(failed) ? 'missing' : 'could not be set up'}${said ? ` (${said})` : ''}; ${item?.hint ?? ''}`.trim();
      }
    } else if (lines.length !== items.length) {
      result.state = 'failed';
      result.code = 'FLEET_SETUP';
      result.error = `the setup script stopped after ${lines.length} of ${items.length} items (exit ${run.code})${run.stderr.trim() ? `: ${run.stderr.trim().split('\n').slice(-1)[0]}` : ''}`;
    } else if (request.check) {
      result.state = result.lacking.length > 0 ? 'lacking' : 'unchanged';
    } else {
      result.state = result.changed.length > 0 ? 'changed' : 'unchanged';
    }
  } catch (err) {
    result.state = 'failed';
    result.error = describeError(err);
    result.code = codeOf(err, 'FLEET_HOST');
    const hint = hintOf(err);
    if (hint !== undefined) result.hint = hint;
  } finally {
    session.pool.release(host);
  }
  return result;
}

/** The end of `pier setup`, for people: counts, what changed or is missing, failures grouped. */
export function setupSummary(result: SetupResult): string {
  const count = (state: SetupHostResult['state']) => result.hosts.filter((h) => h.state === state).length;
  const lines: string[] = [];
  const groups = new Map<string, string[]>();
  for (const host of result.hosts) {
    for (const what of result.check ? host.lacking : host.changed) {
      groups.set(what, [...(groups.get(what) ?? []), host.host.name]);
    }
  }
  if (groups.size > 0) {
    lines.push(result.check ? 'missing:' : 'changed:');
    for (const [what, names] of groups) {
      const shown = names.slice(0, 8).join(', ') + (names.length > 8 ? `, … (${names.length - 8} more)` : '');
      lines.push(`  ${what}: ${counted(names.length, 'host')} (${shown})`);
    }
  }
  const failures = groupedFailures(
    result.hosts.map((h) => ({ host: h.host, state: h.state, error: h.error, hint: h.hint })) as never,
  );
  if (failures.length > 0) lines.push('failures:', ...failures.map((line) => `  ${line}`));
  const total = result.hosts.length;
  if (result.check) {
    lines.push(
      count('lacking') + count('failed') === 0
        ? `setup --check: ${total === 1 ? 'the host has' : `all ${total} hosts have`} everything pier needs`
        : `setup --check: ${count('lacking')} of ${total} hosts lack something, ${count('failed')} could not be checked`,
    );
  } else {
    lines.push(
      count('changed') + count('failed') === 0
        ? `setup: nothing to change on ${counted(total, 'host')}`
        : // A host that failed after changing something counts as changed too: the list above
          // names what changed on it.
          `setup: ${counted(result.hosts.filter((h) => h.changed.length > 0).length, 'host')} changed, ${count('unchanged')} unchanged, ${count('failed')} failed`,
    );
  }
  if (result.interrupted)
    lines.push('interrupted: hosts not reached yet were left alone; run pier setup again');
  return `${lines.join('\n')}\n`;
}
