// `pier deploy --dry-run`: the plan (waves per data center, budgets) and the exact commands a
// host would run, rendered by the same executor code path that runs them for real.

import { counted } from '../../common/counted.js';
import { readCurrent, switchCurrent } from '../commands/activate.js';
import { appendAudit } from '../commands/audit.js';
import { dropInText, envDropIn, hasEnvironment, sharedEnvFile } from '../commands/environment.js';
import { healthGate } from '../commands/health.js';
import { type HookPoint, runHook } from '../commands/hooks.js';
import { layoutOf } from '../commands/layout.js';
import { fleetLockPlace, releaseLock, takeLock } from '../commands/lock.js';
import { asRoot } from '../commands/privilege.js';
import { applyRelease } from '../commands/service.js';
import { configureRelease } from '../commands/shared.js';
import { render } from '../commands/shell.js';
import {
  prepareDirs,
  pullArtifact,
  receiveArtifact,
  stagedSha,
  unpackArtifact,
  verifyArtifact,
} from '../commands/stage.js';
import { installUnit } from '../commands/unit.js';
import type { Fleet } from '../inventory/inventory.js';
import { lockHostOf } from '../lock.js';
import { type Plan, waves } from '../rollout/plan.js';
import { tunnelable } from '../ssh/tunnel-http.js';

export function planText(fleet: Fleet, plan: Plan, version: string, sha256: string): string {
  const lines = [
    `plan: deploy ${version} (${sha256.slice(0, 12)}) to ${counted(plan.hostCount, 'host')} in ${counted(plan.datacenters.length, 'data center')}`,
    `failure budget: ${plan.failureBudget} host(s) fleet-wide; data centers ${plan.dcParallel === 1 ? 'one after another' : `${plan.dcParallel} at a time`}`,
  ];
  for (const dc of plan.datacenters) {
    lines.push(
      '',
      `${dc.name}: ${counted(dc.canaries.length + dc.rest.length, 'host')}, window ${dc.window}, failure budget ${dc.failureBudget}`,
    );
    waves(dc).forEach((wave, index) => {
      const canary = index === 0 && dc.canaries.length > 0;
      const names = wave.map((host) => host.name);
      const shown =
        names.length > 6 ? `${names.slice(0, 6).join(', ')}, … (${names.length})` : names.join(', ');
      lines.push(`  ${canary ? 'canary' : `wave ${index + (dc.canaries.length > 0 ? 0 : 1)}`}: ${shown}`);
    });
  }
  const host = plan.datacenters[0]?.canaries[0] ?? plan.datacenters[0]?.rest[0];
  if (host) {
    const layout = layoutOf(host.deployTo);
    // As the deploy runs them on this host: privileged steps through `sudo -n` with ssh.sudo.
    const root = asRoot(host.sudo);
    const lock = JSON.stringify({ owner: 'USER@HOST', deploy: 'ID', since: 'TIME', expires: 'TIME' });
    const { service, shared, hooks } = fleet;
    const envFile = sharedEnvFile(layout, service.env_file);
    const withEnv = hasEnvironment(service);
    const hook = (point: HookPoint, label: string, note: string): string[] =>
      hooks[point].map(
        (command, index) =>
          `  ${index === 0 ? label.padEnd(10) : ''.padEnd(10)} ${render(runHook(layout, version, point, index, command, hooks.timeoutMs, envFile))}${index === 0 ? `   (${note})` : ''}`,
      );
    const local = (point: 'pre_deploy' | 'post_deploy', note: string): string[] =>
      hooks[point].map((command) => `  ${point}: /bin/sh -c ${JSON.stringify(command)}   (${note})`);
    lines.push('');
    if (fleet.env.entries.length > 0) {
      lines.push(
        `environment: ${fleet.env.entries.map((entry) => `${entry.key}=${entry.shown}`).join(' ')}`,
        '  (values resolved on the controller, sent on stdin into releases/<version>/.pier-env, mode 0600)',
      );
    }
    lines.push(...local('pre_deploy', 'on the controller, before any host is contacted'));
    const lockHost = lockHostOf(fleet);
    lines.push(
      `the fleet lock, on ${lockHost.name} (the first host in rollout order), before any other host:`,
      `  ${render(takeLock(fleetLockPlace(layoutOf(lockHost.deployTo)), 'ID', lock, 'NONCE'))}`,
      `commands on each host (as on ${host.name}):`,
      `  lock:      ${render(takeLock(layout, 'ID', lock, 'NONCE'))}   (in the same round trip as the check)`,
      `  check:     ${render(stagedSha(layout, version))}`,
      `  stage:     ${render(prepareDirs(layout, version))}`,
      `             ${render(receiveArtifact(layout, sha256))}   (artifact on stdin; once per data center with the relay)`,
      `             ${render(pullArtifact(layout, sha256, { address: 'RELAY', port: 0 }, 600))}   (the other hosts)`,
      `             ${render(verifyArtifact(layout, sha256))}`,
      `             ${render(unpackArtifact(layout, version, sha256))}`,
      ...(withEnv || shared.dirs.length > 0 || shared.files.length > 0
        ? [
            `  shared:    ${render(configureRelease(layout, version, shared, service.manager === 'systemd' && withEnv ? dropInText(layout, envFile) : undefined))}   (the environment on stdin)`,
          ]
        : []),
      ...hook('after_stage', 'after_stage:', 'in the release, with its environment'),
      ...hook(
        'once',
        'once:',
        'on one host per deploy, before the first switch; skipped by --resume once done',
      ),
      `  activate:  ${render(readCurrent(layout))}`,
      ...hook('before_activate', 'before:', 'before_activate: a failure leaves the old release serving'),
      ...(service.manager === 'systemd' && service.unit !== undefined
        ? [`             ${render(installUnit(layout, version, service.name, service.unit, root))}`]
        : []),
      ...envDropIn(layout, version, service, root).map((script) => `             ${render(script)}`),
      `             ${render(switchCurrent(layout, version))}`,
      `             ${render(applyRelease(layout, { ...service, runtime: fleet.runtime }, false, root))}`,
      ...healthLines(fleet, version),
      ...hook('after_activate', 'after:', 'after_activate: a failure rolls the host back'),
      `  audit:     ${render(appendAudit(layout, { at: new Date(0), deploy: 'ID', action: 'deploy', version, previous: 'PREVIOUS', result: 'healthy', by: 'USER@HOST' }))}`,
      `  unlock:    ${render(releaseLock(layout, 'ID', 'NONCE'))}`,
      `the fleet lock, released at the end: ${render(releaseLock(fleetLockPlace(layoutOf(lockHost.deployTo)), 'ID', 'NONCE'))}`,
    );
    lines.push(...local('post_deploy', 'on the controller, after the report is written'));
  }
  return `${lines.join('\n')}\n`;
}

/** The gate's lines: a GET through the SSH connection for http://, else the program on the host. */
function healthLines(fleet: Fleet, version: string): string[] {
  const { health } = fleet;
  const until = `until ${health.status}${health.body ? ` with "${health.body}"` : ''}, then ${health.bake / 1000} s bake`;
  const onHost = render(
    healthGate({
      url: health.url,
      status: health.status,
      body: health.body?.replaceAll('{version}', version),
      timeoutMs: health.timeout,
      intervalMs: health.interval,
      bakeMs: health.bake,
    }),
  );
  if (!tunnelable(health.url)) return [`  health:    ${onHost}   (one program on the host: ${until})`];
  return [
    `  health:    GET ${health.url} every ${health.interval / 1000} s through the host's SSH connection (direct-tcpip, no command on the host): ${until}`,
    `             ${onHost}   (instead, when the host's sshd refuses forwarding)`,
  ];
}
