// The steps one host goes through, each a few commands from commands/* run on the host's
// connection. No policy here: the runner decides what runs when.
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { readCurrent, switchCurrent, versionOfLink } from '../commands/activate.js';
import { type AuditEntry, appendAudit } from '../commands/audit.js';
import { envDropIn } from '../commands/environment.js';
import { layoutOf, runtimeDir } from '../commands/layout.js';
import { asRoot } from '../commands/privilege.js';
import { probeReleases, removeReleases, splitReleaseProbe } from '../commands/retention.js';
import { appLog, applyRelease, appRunning } from '../commands/service.js';
import { all } from '../commands/shell.js';
import {
  cleanStage,
  prepareDirs,
  pullArtifact,
  receiveArtifact,
  runtimeProbe,
  stagedSha,
  unpackArtifact,
  verifyArtifact,
} from '../commands/stage.js';
import { installUnit, unitChanged } from '../commands/unit.js';
import type { Fleet, Host } from '../inventory/inventory.js';
import { type RuntimeInfo, runtimeProblem } from '../release/runtime.js';
import type { Connection } from '../ssh/connection.js';
import { HostError } from '../ssh/errors.js';
import { passHealthGate } from './health-gate.js';
import { parseRevisions } from './history.js';
import { parseReleaseList, releasesToRemove } from './retention.js';

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

/**
 * After staging, before anything is activated: the release's Node must run on this host and, for
 * `runtime: host`, have the build's ABI, platform and arch (native addons load only then).
 */
export async function checkRuntime(
  connection: Connection,
  host: Host,
  version: string,
  runtime: RuntimeInfo | undefined,
): Promise<void> {
  if (runtime === undefined) return;
  const node = releaseNode(host, version, runtime);
  const probe = await connection.exec(runtimeProbe(node));
  if (runtime.bundled) {
    if (probe.code === 0) return;
    const said = probe.stderr.trim().split('\n').slice(-1)[0] ?? '';
    throw new HostError(
      'FLEET_RUNTIME',
      `the bundled Node ${runtime.node} does not run on this host (exit ${probe.code}${said ? `: ${said}` : ''})`,
      {
        hint: "the controller that builds releases must match the hosts' OS and architecture; or use runtime: host",
      },
    );
  }
  const problem = runtimeProblem(runtime, probe.code === 0 ? probe.stdout : '');
  if (problem !== undefined) {
    throw new HostError('FLEET_RUNTIME', problem, {
      hint: `install Node ${runtime.node} on the host, build releases with the hosts' Node, or set runtime: bundled`,
    });
  }
}

/** True when `version` is already unpacked from this artifact; a different artifact is an error. */
export async function isStaged(
  connection: Connection,
  host: Host,
  version: string,
  sha256: string,
): Promise<boolean> {
  const marker = (
    await connection.check('reading the release marker', stagedSha(layoutOf(host.deployTo), version))
  ).trim();
  if (marker === '') return false;
  if (marker !== sha256) {
    throw new HostError(
      'FLEET_RELEASE_MISMATCH',
      `releases/${version} holds another artifact (${marker.slice(0, 12)})`,
      {
        hint: 'versions are immutable: release a new version instead of rebuilding this one',
      },
    );
  }
  return true;
}

/** Upload from the controller; `keep` leaves the tarball for the data center relay. */
export async function uploadArtifact(
  connection: Connection,
  host: Host,
  version: string,
  artifact: Artifact,
  keep: boolean,
): Promise<void> {
  const layout = layoutOf(host.deployTo);
  try {
    await connection.check('creating the release directories', prepareDirs(layout));
    await connection.check('uploading the artifact', receiveArtifact(layout, artifact.sha256), {
      stdin: createReadStream(artifact.path),
    });
    await unpack(connection, host, version, artifact.sha256, keep);
  } catch (err) {
    await connection.exec(cleanStage(layout, version, artifact.sha256)).catch(() => {});
    throw err;
  }
}

/** Pull from the relay host of the same data center, then verify and unpack like an upload. */
export async function pullFromRelay(
  connection: Connection,
  host: Host,
  version: string,
  sha256: string,
  url: string,
): Promise<void> {
  const layout = layoutOf(host.deployTo);
  try {
    await connection.check('creating the release directories', prepareDirs(layout));
    await connection.check('pulling the artifact from the relay', pullArtifact(layout, sha256, url, 600));
    await unpack(connection, host, version, sha256, false);
  } catch (err) {
    await connection.exec(cleanStage(layout, version, sha256)).catch(() => {});
    throw err;
  }
}

async function unpack(
  connection: Connection,
  host: Host,
  version: string,
  sha256: string,
  keep: boolean,
): Promise<void> {
  const layout = layoutOf(host.deployTo);
  const verified = await connection.exec(verifyArtifact(layout, sha256));
  if (verified.code !== 0) {
    throw new HostError(
      'FLEET_CHECKSUM',
      'the artifact on the host does not match its SHA-256 (corrupted in transit?)',
    );
  }
  await connection.check('unpacking the artifact', unpackArtifact(layout, version, sha256, keep));
}

export async function currentVersion(connection: Connection, host: Host): Promise<string | undefined> {
  return versionOfLink(await connection.check('reading current', readCurrent(layoutOf(host.deployTo))));
}

/** Renders the release's unit (when configured), points `current` at it, makes the service serve it. */
export async function switchTo(
  connection: Connection,
  host: Host,
  fleet: Fleet,
  version: string,
): Promise<void> {
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
  await connection.check('switching current', switchCurrent(layout, version));
  await connection.check(
    `${service.manager === 'systemd' ? 'systemctl' : 'restarting the app'}`,
    applyRelease(layout, { ...service, runtime: fleet.runtime }, changed, root),
  );
}

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
 * service was started) unless health.body holds `{version}`. Throws HostError FLEET_UNHEALTHY,
 * or FLEET_APP_EXITED naming the app's log.
 */
export async function passGate(
  connection: Connection,
  host: Host,
  fleet: Fleet,
  version: string,
  startedAt: number,
): Promise<void> {
  await passHealthGate(connection, fleet.health, version);
  if (fleet.service.manager !== 'none') return;
  if (fleet.health.body?.includes('{version}') !== true) await sleep(startedAt + startGraceMs - Date.now());
  const layout = layoutOf(host.deployTo);
  const running = await connection.exec(appRunning(layout, fleet.service));
  if (running.code !== 0) {
    const log = appLog(layout, fleet.service);
    throw new HostError('FLEET_APP_EXITED', `the app exited after start; see ${log}`, {
      hint: `the health URL answered, but the process pier started is gone: another process may hold the port, or the app crashed after answering; ${log} says why`,
    });
  }
}

/** keep_releases after a host is healthy on `current`: one round trip to read, one to remove. */
export async function pruneReleases(
  connection: Connection,
  host: Host,
  keep: number,
  current: string,
  previous: string | undefined,
): Promise<void> {
  const layout = layoutOf(host.deployTo);
  const probe = splitReleaseProbe(await connection.check('listing releases', probeReleases(layout)));
  const doomed = releasesToRemove({
    releases: parseReleaseList(probe.list),
    revisions: parseRevisions(probe.revisions),
    keep,
    current,
    previous,
  });
  if (doomed.length > 0) await connection.check('removing old releases', removeReleases(layout, doomed));
}

export async function audit(connection: Connection, host: Host, entry: AuditEntry): Promise<void> {
  await connection.check('writing revisions.log', appendAudit(layoutOf(host.deployTo), entry));
}
