// Deploy hooks on a host: a command from fleet.yml `hooks` run by /bin/sh in the release
// directory, with the release's environment (environment.ts) loaded, stdin closed, bounded by
// coreutils `timeout` (which signals the hook's whole process group, so its children go too).
// The full output is kept on the host in releases/<version>/.pier-hooks/<hook>-<n>.log (mode 0600
// in a 0700 directory: it may show secrets); only its last bytes come back, so a hook that prints
// megabytes costs the controller a few KiB.
import path from 'node:path/posix';
import { loadEnv, releaseEnvFile } from './environment.js';
import { type Layout, runtimeDir } from './layout.js';
import { all, remotePath, type Script } from './shell.js';

export type HookPoint = 'after_stage' | 'once' | 'before_activate' | 'after_activate';

/** The end of a hook's output that comes back to the controller and into the report. */
export const hookTailBytes = 8192;
/** `timeout`'s exit status when the limit passed (GNU coreutils; 137 when it had to KILL). */
export const hookTimedOutExits: readonly number[] = [124, 137];
/** After TERM at the limit, KILL this many seconds later. */
const killAfterSeconds = 5;

// Runs "$@" with its output in the log file, prints the log's end, exits with the hook's status.
// The log is the user's alone (umask 077): a hook's output may show the secrets it was given.
const tailRunner =
  'log=$1 bytes=$2; shift 2; umask 077; "$@" >"$log" 2>&1 </dev/null; status=$?; tail -c "$bytes" "$log"; exit $status';

export function hookLog(layout: Layout, version: string, point: HookPoint, index: number): string {
  return path.join(layout.release(version), '.pier-hooks', `${point}-${index + 1}.log`);
}

/**
 * Hook `command` (the `index`th of `point`) from `releases/<version>`; `sharedEnvFile` is the
 * absolute path of service.env_file, if any. `timeoutMs` ≥ 1 ms.
 */
export function runHook(
  layout: Layout,
  version: string,
  point: HookPoint,
  index: number,
  command: string,
  timeoutMs: number,
  sharedEnvFile: string | undefined,
  bundledNode = false,
): Script {
  const release = layout.release(version);
  // runtime: bundled: `node` in a hook is the release's own Node, as for the service.
  const onPath = bundledNode
    ? [['export', `PATH=${path.join(release, runtimeDir, 'bin')}:${remotePath}`]]
    : [];
  const log = hookLog(layout, version, point, index);
  const seconds = `${Math.max(1, timeoutMs) / 1000}s`;
  return all(
    ['cd', release],
    ...onPath,
    ['mkdir', '-p', '-m', '0700', path.dirname(log)],
    loadEnv(releaseEnvFile(layout, version), sharedEnvFile),
    [
      ...['sh', '-c', tailRunner, 'pier-hook', log, String(hookTailBytes)],
      ...['timeout', '-k', String(killAfterSeconds), seconds, 'sh', '-c', command],
    ],
  );
}
