// The steps one host goes through, each a few commands from commands/* run on the host's
// connection. No policy here: the runner decides what runs when.
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { codeOf } from '../../common/coded-error.js';
import { readCurrent, switchCurrent, versionOfLink } from '../commands/activate.js';
import { type AuditEntry, appendAudit } from '../commands/audit.js';
import { envDropIn } from '../commands/environment.js';
import { layoutOf, runtimeDir } from '../commands/layout.js';
import { asRoot } from '../commands/privilege.js';
import { probeReleases, removeReleases, splitReleaseProbe, withinKeep } from '../commands/retention.js';
import {
  appLog,
  applyRelease,
  appRunning,
  parseServiceStatus,
  type ServiceStatus,
  serviceStatus,
} from '../commands/service.js';
import { all, branch, each, either, optional, type Script } from '../commands/shell.js';
import {
  checksumExit,
  cleanStage,
  type RelayAddress,
  runtimeExit,
  sectionMarker,
  splitStageProbe,
  stageArtifact,
  stageProbe,
} from '../commands/stage.js';
import { installUnit, unitChanged } from '../commands/unit.js';
import type { Fleet, Host } from '../inventory/inventory.js';
import { type RuntimeInfo, runtimeProblem } from '../release/runtime.js';
import { type Connection, failure } from '../ssh/connection.js';
import { HostError, RemoteCommandError } from '../ssh/errors.js';
import { passHealthGate } from './health-gate.js';
import { parseRevisions } from './history.js';
import { parseReleaseList, releasesInUse, releasesToRemove } from './retention.js';

export interface Artifact {
  path: string;
  sha256: string;
  /** The Node that built it (manifests from before runtimes were recorded have none). */
  runtime?: RuntimeInfo | undefined;
}

/** The Node a staged release runs on: its bundled binary, or the host's `node`. */
export function releaseNode(host: Host, version: string, runtime: RuntimeInfo | undefined): string {
  return runtime?.bundled
    ? path.posix.join(layoutOf(host.deployTo).release(version), runtimeDir, 'bin', 'node')
    : 'node';
}

/** A lock taken in a host's first round trip (lock.ts DeployLocks): its command and its verdict. */
export interface FirstLock {
  script: Script;
  /** Decides on what `script` printed: resolves when the lock is this deploy's, else throws. */
  settle: (connection: Connection, stdout: string) => Promise<void>;
}

/**
 * Staging's first round trip: with `lock`, this deploy's lock on the host is taken first (a
 * host whose lock another run holds goes no further: FLEET_LOCKED). Then: is `version` already
 * unpacked from this artifact (a different artifact under the same version is
 * FLEET_RELEASE_MISMATCH), what does `current` point to, and with `runtime: host`, can the
 * host's Node load the release's native addons (its ABI, platform and arch against the
 * build's; FLEET_RUNTIME naming both otherwise)?
 */
export async function probeStage(
  connection: Connection,
  host: Host,
  version: string,
  artifact: Artifact,
  lock?: FirstLock,
): Promise<{ staged: boolean; current: string | undefined }> {
  const layout = layoutOf(host.deployTo);
  const { runtime } = artifact;
  const hostNode = runtime !== undefined && !runtime.bundled;
  const probe = stageProbe(layout, version, hostNode);
  let output: string;
  if (lock) {
    const result = await connection.exec(each(lock.script, ['echo', sectionMarker], probe));
    const at = result.stdout.indexOf(`${sectionMarker}\n`);
    if (at === -1) throw failure('taking the lock', result);
    await lock.settle(connection, result.stdout.slice(0, at)).catch((err: { code?: unknown }) => {
      // The take could not act (a deploy_to it cannot write): its own words say why.
      throw err.code === 'FLEET_LOCK_OUTPUT' && result.stderr !== ''
        ? new RemoteCommandError(
            'taking the lock',
            result.code || 1,
            result.stderr,
            `deploy_to must exist and be writable by the login user: \`pier setup\` prepares it (\`pier setup --check\` says what is missing)`,
          )
        : err;
    });
    if (result.code !== 0) throw failure('reading the release marker', result);
    output = result.stdout.slice(at + sectionMarker.length + 1);
  } else {
    output = await connection.check('reading the release marker', probe);
  }
  const parts = splitStageProbe(output);
  if (parts.marker !== '' && parts.marker !== artifact.sha256) {
    throw new HostError(
      'FLEET_RELEASE_MISMATCH',
      `releases/${version} holds another artifact (${parts.marker.slice(0, 12)})`,
      {
        hint: 'versions are immutable: release a new version instead of rebuilding this one',
      },
    );
  }
  if (runtime !== undefined && hostNode) {
    const problem = runtimeProblem(runtime, parts.node);
    if (problem !== undefined) {
      throw new HostError('FLEET_RUNTIME', problem, {
        hint: `install Node ${runtime.node} on the host, build releases with the hosts' Node, or set runtime: bundled`,
      });
    }
  }
  return { staged: parts.marker !== '', current: versionOfLink(parts.current) };
}

/**
 * Staging's second round trip: the artifact streamed from the controller (or pulled from the
 * data center's `relay`), checked, unpacked, and its bundled Node run once. `keep`
 * leaves the tarball for the relay. On failure nothing half-written stays behind.
 */
export async function stageRelease(
  connection: Connection,
  host: Host,
  version: string,
  artifact: Artifact,
  options: { relay?: RelayAddress; keep?: boolean } = {},
): Promise<void> {
  const layout = layoutOf(host.deployTo);
  const { runtime } = artifact;
  const script = stageArtifact(layout, version, artifact.sha256, {
    ...options,
    ...(runtime?.bundled ? { bundledNode: releaseNode(host, version, runtime) } : {}),
  });
  const result = await connection.exec(
    script,
    options.relay === undefined ? { stdin: createReadStream(artifact.path) } : {},
  );
  if (result.code === 0) return;
  await connection.exec(cleanStage(layout, version, artifact.sha256)).catch(() => {});
  if (result.code === checksumExit) {
    throw new HostError(
      'FLEET_CHECKSUM',
      'the artifact on the host does not match its SHA-256 (corrupted in transit?)',
    );
  }
  if (result.code === runtimeExit) {
    const said = result.stderr.trim().split('\n').slice(-1)[0] ?? '';
    throw new HostError(
      'FLEET_RUNTIME',
      `the bundled Node ${runtime?.node ?? ''} does not run on this host${said ? ` (${said})` : ''}`,
      {
        hint: "the controller that builds releases must match the hosts' OS and architecture; or use runtime: host",
      },
    );
  }
  throw new RemoteCommandError(
    options.relay === undefined ? 'staging the artifact' : 'pulling the artifact from the relay',
    result.code,
    result.stderr || result.stdout,
  );
}

export async function currentVersion(connection: Connection, host: Host): Promise<string | undefined> {
  return versionOfLink(await connection.check('reading current', readCurrent(layoutOf(host.deployTo))));
}

/**
 * Renders the release's unit (when configured), points `current` at it, makes the service serve
 * it: with `restart`, by a restart whatever service.action says. Resolves with the systemd
 * unit's state just before (for passGate, which waits for a reload by it), else undefined.
 */
export async function switchTo(
  connection: Connection,
  host: Host,
  fleet: Fleet,
  version: string,
  options: { restart?: boolean; fence?: Script | undefined } = {},
): Promise<ServiceStatus | undefined> {
  const layout = layoutOf(host.deployTo);
  const { service } = fleet;
  let changed = false;
  const root = asRoot(host.sudo);
  const install = [
    ...(service.manager === 'systemd' && service.unit !== undefined
      ? [installUnit(layout, version, service.name, service.unit, root)]
      : []),
    // The environment's systemd drop-in rides in the same round trip (commands/environment.ts).
    ...envDropIn(layout, version, service, root),
  ];
  if (install.length > 0) {
    const output = await connection.check('installing the systemd unit', all(...install));
    changed = unitChanged(output);
  }
  // The switch and the restart in one round trip: `current` moves, then the service follows.
  const apply = applyRelease(
    layout,
    { ...service, runtime: fleet.runtime },
    changed || options.restart === true,
    root,
  );
  // systemd: the unit's state just before, read in the same round trip.
  const before = service.manager === 'systemd' ? [optional(serviceStatus(service.name))] : [];
  // The fence first (DeployLocks.fence): a run that no longer holds the host's lock moves nothing.
  const fence = options.fence ? [either(options.fence, all(['echo', lockLostMarker], ['false']))] : [];
  const switched = await connection.exec(
    all(...fence, switchCurrent(layout, version), ...before, ['echo', switchedMarker], apply),
  );
  if (switched.stdout.startsWith(`${lockLostMarker}\n`)) {
    throw new HostError(
      'FLEET_LOCK_LOST',
      "this run no longer holds the host's lock (another run took it over after lock_ttl, or `pier unlock` removed it): nothing was switched",
      { hint: '`pier status` shows who holds the locks now' },
    );
  }
  const at = switched.stdout.indexOf(`${switchedMarker}\n`);
  if (at === -1) throw new SwitchNotDone(switched.code, switched.stderr || switched.stdout);
  if (switched.code !== 0) {
    throw failure(service.manager === 'systemd' ? 'systemctl' : 'restarting the app', switched);
  }
  return before.length > 0 ? parseServiceStatus(switched.stdout.slice(0, at)) : undefined;
}

/**
 * The switch of `current` itself failed: the link is one rename, so it still names the release
 * the host ran, and nothing is to be returned (a full disk, a directory where the link goes).
 */
export class SwitchNotDone extends RemoteCommandError {
  constructor(exitCode: number, output: string) {
    super('switching current', exitCode, output);
  }
}

/** Printed between the switch of `current` and the restart, so a failure says which failed. */
const switchedMarker = 'pier-switched';
/** Printed when the fence failed: the host's lock is no longer this run's. */
const lockLostMarker = 'pier-lock-lost';

/**
 * How long after its start the process pier started must still run when the health answer does
 * not name the version: then it may come from a process pier did not start (one holding the
 * port), and an app that cannot bind exits within its startup (node: 0.1-0.25 s here), so a check
 * right after a fast gate could still find it alive. With `{version}` in health.body the answer
 * itself shows the new release serves, and the check runs at once.
 */
export const startGraceMs = 1_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The health gate for `version`, then (service.manager `none`) a check that the process pier
 * started still runs, at least `startGraceMs` after `startedAt` (ms since the epoch, when the
 * service was started) unless health.body holds `{version}`; (`systemd`) the wait for a chain
 * reload to end, read from the unit's state and status (`systemctl show`, one round trip a
 * `health.interval`). Throws HostError FLEET_UNHEALTHY, FLEET_APP_EXITED naming the app's log,
 * or FLEET_RELOAD_ABORTED with pier serve's reason.
 */
export async function passGate(
  connection: Connection,
  host: Host,
  fleet: Fleet,
  version: string,
  startedAt: number,
  before?: ServiceStatus,
): Promise<void> {
  if (fleet.service.manager === 'systemd') return passSystemdGate(connection, fleet, version, before);
  const layout = layoutOf(host.deployTo);
  const log = appLog(layout, fleet.service);
  const appGone = async (): Promise<HostError | undefined> => {
    const running = await connection.exec(appRunning(layout, fleet.service)).catch(() => undefined);
    if (running === undefined || running.code === 0) return undefined;
    return new HostError('FLEET_APP_EXITED', `the app exited before its health check passed; see ${log}`, {
      hint: `the process pier started is gone: ${log} says why (a crash at start, a port in use, a missing setting)`,
    });
  };
  try {
    await passHealthGate(connection, fleet.health, version, appGone);
  } catch (err) {
    // An app that answered, then fell over (during the bake): its exit and its log are the
    // news, not the silence the probes met after it.
    if (codeOf(err, '') === 'FLEET_UNHEALTHY') {
      const gone = await appGone();
      if (gone) throw gone;
    }
    throw err;
  }
  if (fleet.health.body?.includes('{version}') !== true) await sleep(startedAt + startGraceMs - Date.now());
  const running = await connection.exec(appRunning(layout, fleet.service));
  if (running.code !== 0) {
    throw new HostError('FLEET_APP_EXITED', `the app exited after start; see ${log}`, {
      hint: `the health URL answered, but the process pier started is gone: another process may hold the port, or the app crashed after answering; ${log} says why`,
    });
  }
}

/**
 * passGate under systemd: the health gate, reading the unit's state and status while the probes
 * fail (once a second) and after they pass, until a chain reload `before` (the state just before
 * the switch) started is over. Throws FLEET_UNHEALTHY (its hint naming the journal) or
 * FLEET_RELOAD_ABORTED.
 */
async function passSystemdGate(
  connection: Connection,
  fleet: Fleet,
  version: string,
  before: ServiceStatus | undefined,
): Promise<void> {
  // Where a service that does not answer as expected says why (a reload pier serve aborted
  // because the new app failed to load, a crash loop).
  const journal = `\`journalctl -u ${fleet.service.name}\` on the host shows the service's log`;
  const status = async () =>
    parseServiceStatus(
      (await connection.exec(serviceStatus(fleet.service.name)).catch(() => undefined))?.stdout ?? '',
    );
  // pier serve says in its status when a reload kept the old workers (the new app does not
  // boot): the host fails with its reason, not after the whole health timeout, and not as
  // healthy when the old workers' answers pass a health.body that does not name the version.
  const aborted = (statusText: string): HostError | undefined => {
    const reason = /reload aborted, (.*)$/.exec(statusText)?.[1];
    if (reason === undefined) return undefined;
    return new HostError('FLEET_RELOAD_ABORTED', `pier serve kept the running release: ${reason}`, {
      hint: `the new release's app fails to load on the host; ${journal}`,
    });
  };
  await passHealthGate(connection, fleet.health, version, async () =>
    aborted((await status()).statusText),
  ).catch((err: unknown) => {
    if (!(err instanceof HostError) || err.code !== 'FLEET_UNHEALTHY') throw err;
    throw new HostError(err.code, err.message, { hint: err.hint ? `${err.hint}; ${journal}` : journal });
  });
  // Healthy answers may still come from the old workers while a chain reload runs: its
  // outcome decides. Under way while systemd shows `reloading` (pier's RELOADING=1 to its
  // READY=1), and, for the same main process pier serve ran before the switch (a reload, not a
  // start), until its count of reloads over has moved: the probes can beat its RELOADING=1.
  const deadline = Date.now() + fleet.health.timeout;
  let now = await status();
  const reloading = (): boolean =>
    now.activeState === 'reloading' ||
    (before?.reloads !== undefined &&
      before.mainPid !== '0' &&
      now.mainPid === before.mainPid &&
      (now.reloads ?? 0) <= before.reloads);
  while (reloading() && Date.now() < deadline) {
    await sleep(fleet.health.interval);
    now = await status();
  }
  const refused = aborted(now.statusText);
  if (refused) throw refused;
}

/**
 * After a host is healthy on `current`: keep_releases, the audit line and, with `unlock`, the
 * release of this deploy's lock. One round trip when the host holds no more than `keep`
 * releases (nothing to remove); else that trip reads the releases and revisions.log, and one
 * more removes the doomed ones, writes the audit line and unlocks. Resolves true when the lock
 * is gone (the script exited 0).
 */
export async function finishHost(
  connection: Connection,
  host: Host,
  fleet: Pick<Fleet, 'keepReleases' | 'service'>,
  entry: AuditEntry & { version: string },
  unlock?: Script,
): Promise<boolean> {
  const keep = fleet.keepReleases;
  const unit = fleet.service.manager === 'systemd' ? fleet.service.name : undefined;
  const layout = layoutOf(host.deployTo);
  const last = (doomed: readonly string[]): Script =>
    each(
      ...(doomed.length > 0 ? [optional(removeReleases(layout, doomed))] : []),
      ...(unlock ? [optional(appendAudit(layout, entry)), unlock] : [appendAudit(layout, entry)]),
    );
  const what = unlock ? 'releasing the lock' : 'writing revisions.log';
  const first = await connection.exec(
    branch(withinKeep(layout, keep), each(['echo', withinKeepMarker], last([])), probeReleases(layout, unit)),
  );
  if (first.stdout.startsWith(`${withinKeepMarker}\n`)) {
    if (first.code !== 0) throw failure(what, first);
    return unlock !== undefined;
  }
  if (first.code !== 0) throw failure('listing releases', first);
  const probe = splitReleaseProbe(first.stdout);
  const doomed = releasesToRemove({
    releases: parseReleaseList(probe.list),
    revisions: parseRevisions(probe.revisions),
    keep,
    current: entry.version,
    previous: entry.previous,
    inUse: releasesInUse(parseServiceStatus(probe.status).statusText, layout.releases),
  });
  await connection.check(what, last(doomed));
  return unlock !== undefined;
}

/** Printed first by finishHost's round trip when retention has nothing to remove. */
const withinKeepMarker = 'pier-within-keep';

export async function audit(connection: Connection, host: Host, entry: AuditEntry): Promise<void> {
  await connection.check('writing revisions.log', appendAudit(layoutOf(host.deployTo), entry));
}
