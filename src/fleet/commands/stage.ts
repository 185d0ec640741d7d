// Stage: put a release on a host without touching what runs. Upload (or pull from the data
// center's relay), check the SHA-256 on the host, unpack beside the live releases, rename.
import { readCurrent } from './activate.js';
import type { Layout } from './layout.js';
import { all, each, either, optional, pipe, program, type Script, writeTo } from './shell.js';

/** Exit status of a stage whose artifact does not match its SHA-256 (the copy is removed). */
export const checksumExit = 98;
/** Exit status of a stage whose bundled Node does not run on the host. */
export const runtimeExit = 99;
/** Separates the parts of the stage probe's output. */
export const sectionMarker = '--pier-stage-section--';

/**
 * Prints the staged artifact's SHA-256 when the release is already there, nothing otherwise.
 * Read by the shell's `read`: each process a step starts is CPU on every host of a fleet.
 */
export function stagedSha(layout: Layout, version: string): Script {
  return optional(program('read -r sha < "$1" && printf "%s\\n" "$sha"', [layout.marker(version)]));
}

/** The release directories, and the empty directory `version` is unpacked into. */
export function prepareDirs(layout: Layout, version: string): Script {
  const partial = layout.partial(version);
  // `test` is a builtin: no rm runs unless an interrupted stage left the directory behind.
  return all(either(['test', '!', '-e', partial], ['rm', '-rf', partial]), [
    ...['mkdir', '-p', layout.releases, layout.log, partial],
  ]);
}

/** The controller streams the artifact into this command's stdin. */
export function receiveArtifact(layout: Layout, sha256: string): Script {
  return writeTo(['cat'], layout.incoming(sha256));
}

/** Where a data center's relay serves the artifact (relay.ts). */
export interface RelayAddress {
  address: string;
  port: number;
}

// Run by bash, which every Debian-family host has (it is Essential) and which opens a TCP
// connection itself (/dev/tcp): $1 address, $2 port, $3 the artifact's SHA-256 (its path on
// the relay). An HTTP/1.0 GET; the status line must say 200; the head is read up to its empty
// line by `read`, which takes one byte at a time from a socket, so `cat` gets the body whole.
// About 2.5 ms of a host's CPU, against 8 ms for curl (most of it loading curl's libraries);
// the SHA-256 check after it is what says the body is complete.
// Header lines end in CR: the empty line that ends the head is one character at most, and the
// status line is shown without its last character.
const pullProgram = [
  'exec 3<>"/dev/tcp/$1/$2" || exit 1',
  'printf "GET /%s HTTP/1.0\\r\\nHost: relay\\r\\n\\r\\n" "$3" >&3 || exit 1',
  'IFS= read -r status <&3',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
  'case $status in "HTTP/1."?" 200 "*) ;; *) echo "the relay at $1 port $2 answered: ${status%?}" >&2; exit 1;; esac',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
  'while IFS= read -r line <&3 && [ ${#line} -gt 1 ]; do :; done',
  'exec cat <&3',
].join('; ');

/**
 * Pull the artifact from another host of the same data center (see relay.ts), giving up after
 * `timeoutSeconds` (coreutils timeout). bash reads no startup file (`--norc --noprofile`, and
 * BASH_ENV unset).
 */
export function pullArtifact(
  layout: Layout,
  sha256: string,
  relay: RelayAddress,
  timeoutSeconds: number,
): Script {
  return writeTo(
    program(
      'unset BASH_ENV; exec timeout "$1" bash --norc --noprofile -c "$2" pier-relay-pull "$3" "$4" "$5"',
      [String(timeoutSeconds), pullProgram, relay.address, String(relay.port), sha256],
    ),
    layout.incoming(sha256),
  );
}

export function verifyArtifact(layout: Layout, sha256: string): Script {
  return either(
    pipe(['printf', '%s  %s\\n', sha256, layout.incoming(sha256)], ['sha256sum', '--check', '--status']),
    all(['rm', '-f', layout.incoming(sha256)], ['false']),
  );
}

/**
 * Unpacks into the directory prepareDirs made, then renames it into place. `keep`: the relay
 * host goes on serving the tarball to its data center until staging is over.
 */
export function unpackArtifact(layout: Layout, version: string, sha256: string, keep = false): Script {
  const partial = layout.partial(version);
  return all(
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

// $1 the cache file. The cache holds one line: KEY ANSWER, ANSWER being `node --version` and
// `uname -sm` (runtime.ts parseHostRuntime). `node --version` answers before Node starts V8
// (about 4 ms of CPU here, against 50 ms for `node -p`), and the ABI follows from the major
// version: NODE_MODULE_VERSION changes with each major release, never within one.
const hostRuntimeProgram = [
  'n=$(command -v node) || exit 1',
  'k=$(stat -L -c %d:%i:%s:%Y "$n") || exit 1',
  'if [ -r "$1" ] && read -r key answer < "$1" && [ "$key" = "$k" ]; then',
  '  printf "%s\\n" "$answer"; exit 0',
  'fi',
  'v=$(node --version) && u=$(uname -sm) || exit 1',
  'r="$v $u"',
  'printf "%s\\n" "$r"',
  '{ printf "%s %s\\n" "$k" "$r" > "$1.$$" && mv -f "$1.$$" "$1"; } 2>/dev/null || rm -f "$1.$$"',
].join('\n');

/** Runs a Node binary as cheaply as it can be run (`--version`): does it start on this host? */
export function runtimeProbe(node: string): Script {
  return all([node, '--version']);
}

/**
 * The host Node's `VERSION SYSNAME MACHINE` (`v20.20.2 Linux x86_64`, see runtime.ts
 * parseHostRuntime), remembered in `cache` under the binary's device, inode, size and mtime:
 * the answer only changes when the binary does (a package upgrade renames a new file into
 * place, so its inode changes). Prints nothing and fails when the host has no `node`; a cache
 * it cannot write only means asking again next time.
 */
export function cachedHostRuntime(cache: string): Script {
  return program(hostRuntimeProgram, [cache]);
}

/**
 * What staging needs to know, in one round trip: the staged artifact's SHA-256 (or nothing),
 * what `current` points to, and with `hostNode` the host Node's `VERSION ABI PLATFORM ARCH`
 * (cachedHostRuntime), each part after a section line (see splitStageProbe).
 */
export function stageProbe(layout: Layout, version: string, hostNode = false): Script {
  return each(
    stagedSha(layout, version),
    ['echo', sectionMarker],
    readCurrent(layout),
    ...(hostNode ? [['echo', sectionMarker], optional(cachedHostRuntime(layout.hostRuntime))] : []),
  );
}

/** stageProbe's output → its parts (missing ones empty). */
export function splitStageProbe(stdout: string): { marker: string; current: string; node: string } {
  const [marker = '', current = '', node = ''] = stdout.split(`${sectionMarker}\n`);
  return { marker: marker.trim(), current: current.trim(), node: node.trim() };
}

/**
 * A whole stage in one command: the release directories, the artifact (from stdin, or pulled
 * from the data center's `relay`), its SHA-256 checked (exit 98 when it differs), unpacked and renamed
 * into place, and with `bundledNode` that binary run once (exit 99 when it cannot).
 */
export function stageArtifact(
  layout: Layout,
  version: string,
  sha256: string,
  options: { relay?: RelayAddress; keep?: boolean; bundledNode?: string },
): Script {
  const fail = (code: number): Script => all(['sh', '-c', `exit ${code}`]);
  return all(
    prepareDirs(layout, version),
    options.relay === undefined
      ? receiveArtifact(layout, sha256)
      : pullArtifact(layout, sha256, options.relay, 600),
    either(verifyArtifact(layout, sha256), fail(checksumExit)),
    unpackArtifact(layout, version, sha256, options.keep ?? false),
    ...(options.bundledNode === undefined
      ? []
      : [
          either(
            writeTo(runtimeProbe(options.bundledNode), '/dev/null'),
            // Not left staged: a later deploy would skip the check and activate it.
            all(['rm', '-rf', layout.release(version)], fail(runtimeExit)),
          ),
        ]),
  );
}
