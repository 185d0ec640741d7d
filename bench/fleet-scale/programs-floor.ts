// The programs floor: what a host's own CPU cannot go below for a deploy made of separate
// programs, whoever sends them. One SSH session per host (as the floor) runs one hand-written
// sh script with the programs pier's steps run for a first deploy with service manager `none`,
// and nothing else: no probe of what is there, no round trip between steps, no check of any
// answer. It does not stand for a deploy anyone should run (it skips every check pier makes
// between steps); it is the least a deploy of these programs costs the hosts.
//
//   lock      mkdir, then mv into place (the owner is in place before the lock appears)
//   stage     mkdir; the relay pull (timeout, bash reading /dev/tcp, cat); sha256sum;
//             tar + gzip into the partial directory; mv into place; rm of the tarball
//   activate  ln -s + mv -T (the atomic switch); the app started as a background job
//             through setsid (the bench's app: sleep)
//   unlock    mv aside, rm
import { createServer, type Server } from 'node:http';

/** Serves one file's bytes at any path over HTTP/1.0, as pier's relay does. */
export async function artifactServer(bytes: Buffer): Promise<{ port: number; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': bytes.length });
    res.end(bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

/** The sh script for one host; `$1`-style words are the shell's, the rest is fixed text. */
export function programsScript(deployTo: string, relayPort: number, sha256: string): string {
  const d = deployTo;
  const tarball = `${d}/releases/.incoming-floor.tar.gz`;
  const pull = [
    'exec 3<>/dev/tcp/127.0.0.1/$1 || exit 1',
    'printf "GET /a HTTP/1.0\\r\\n\\r\\n" >&3',
    'IFS= read -r status <&3',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
    'while IFS= read -r line <&3 && [ ${#line} -gt 1 ]; do :; done',
    'exec cat <&3',
  ].join('; ');
  return [
    'set -e',
    `mkdir ${d}/.floor-lock.new`,
    `echo floor > ${d}/.floor-lock.new/owner`,
    `mv -T ${d}/.floor-lock.new ${d}/.floor-lock`,
    `mkdir ${d}/releases/.partial-floor`,
    `timeout 600 bash --norc --noprofile -c '${pull}' pull ${relayPort} > ${tarball}`,
    `printf '%s  %s\\n' ${sha256} ${tarball} | sha256sum --check --status`,
    `tar -xzf ${tarball} -C ${d}/releases/.partial-floor`,
    `mv -T ${d}/releases/.partial-floor ${d}/releases/floor`,
    `rm -f ${tarball}`,
    `ln -s ${d}/releases/floor ${d}/current-floor.tmp`,
    `mv -T ${d}/current-floor.tmp ${d}/current-floor`,
    `(cd ${d}/current-floor && exec /usr/bin/setsid -- sleep 600 </dev/null >/dev/null 2>&1) &`,
    `mv -T ${d}/.floor-lock ${d}/.floor-lock.old`,
    `rm -rf ${d}/.floor-lock.old`,
  ].join('\n');
}
