// The steps one host goes through, each a few commands from commands/* run on the host's
// connection. No policy here: the runner decides what runs when.
import { createReadStream } from 'node:fs';
import { readCurrent, switchCurrent, versionOfLink } from '../commands/activate.js';
import { type AuditEntry, appendAudit } from '../commands/audit.js';
import { layoutOf } from '../commands/layout.js';
import { probeReleases, removeReleases, splitReleaseProbe } from '../commands/retention.js';
import { applyRelease } from '../commands/service.js';
import {
  cleanStage,
  prepareDirs,
  pullArtifact,
  receiveArtifact,
  stagedSha,
  unpackArtifact,
  verifyArtifact,
} from '../commands/stage.js';
import { installUnit, unitChanged } from '../commands/unit.js';
import type { Fleet, Host } from '../inventory/inventory.js';
import type { Connection } from '../ssh/connection.js';
import { HostError } from '../ssh/errors.js';
import { parseRevisions } from './history.js';
import { parseReleaseList, releasesToRemove } from './retention.js';

export interface Artifact {
  path: string;
  sha256: string;
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
  if (service.manager === 'systemd' && service.unit !== undefined) {
    const output = await connection.check(
      'installing the systemd unit',
      installUnit(layout, version, service.name, service.unit),
    );
    changed = unitChanged(output);
  }
  await connection.check('switching current', switchCurrent(layout, version));
  await connection.check(
    `${service.manager === 'systemd' ? 'systemctl' : 'restarting the app'}`,
    applyRelease(layout, service, changed),
  );
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
