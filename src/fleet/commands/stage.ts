// Stage: put a release on a host without touching what runs. Upload (or pull from the data
// center's relay), check the SHA-256 on the host, unpack beside the live releases, rename.
import type { Layout } from './layout.js';
import { all, either, optional, pipe, type Script, writeTo } from './shell.js';

/** Prints the staged artifact's SHA-256 when the release is already there, nothing otherwise. */
export function stagedSha(layout: Layout, version: string): Script {
  return optional(['cat', layout.marker(version)]);
}

export function prepareDirs(layout: Layout): Script {
  return all(['mkdir', '-p', layout.releases, layout.log]);
}

/** The controller streams the artifact into this command's stdin. */
export function receiveArtifact(layout: Layout, sha256: string): Script {
  return writeTo(['cat'], layout.incoming(sha256));
}

/** Pull the artifact from another host of the same data center (see relay.ts). */
export function pullArtifact(layout: Layout, sha256: string, url: string, timeoutSeconds: number): Script {
  return all(['curl', '-fsS', '--max-time', String(timeoutSeconds), '-o', layout.incoming(sha256), url]);
}

export function verifyArtifact(layout: Layout, sha256: string): Script {
  return either(
    pipe(['printf', '%s  %s\\n', sha256, layout.incoming(sha256)], ['sha256sum', '--check', '--status']),
    all(['rm', '-f', layout.incoming(sha256)], ['false']),
  );
}

/** `keep`: the relay host goes on serving the tarball to its data center until staging is over. */
export function unpackArtifact(layout: Layout, version: string, sha256: string, keep = false): Script {
  const partial = layout.partial(version);
  return all(
    ['rm', '-rf', partial],
    ['mkdir', partial],
    ['tar', '-xzf', layout.incoming(sha256), '-C', partial],
    writeTo(['printf', '%s\\n', sha256], `${partial}/.pier-artifact`),
    ['mv', '-T', partial, layout.release(version)],
    ...(keep ? [] : [['rm', '-f', layout.incoming(sha256)]]),
  );
}

/** After a failed stage: leave nothing half-written behind (a full disk must not stay full). */
export function cleanStage(layout: Layout, version: string, sha256: string): Script {
  return all(['rm', '-rf', layout.partial(version), layout.incoming(sha256)]);
}

/** Prints `VERSION ABI PLATFORM ARCH` of a Node: the host's (`node`) or a bundled binary. */
export function runtimeProbe(node: string): Script {
  return all([
    node,
    '-p',
    `[process.version, process.versions.modules, process.platform, process.arch].join(' ')`,
  ]);
}
