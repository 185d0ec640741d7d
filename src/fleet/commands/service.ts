// Making the service run the release `current` points at. `systemd`: the unit (installed once on
// the host, or rendered from the release by unit.ts) is reloaded or restarted. `none`: pier keeps a pidfile
// and starts the command from `current` in the background, so no process of pier stays behind on the host. The command
// runs as the leader of its own process group (setsid), and stopping it stops the whole group:
// with `sh -c "node server.mjs"` the pidfile names the shell, and the server under it would
// otherwise outlive it, keep the port, and answer the health check for the next release. The
// environment is loaded from files by /bin/sh, which then execs the command (environment.ts),
// so no value of service.env is in any process's argv.
import path from 'node:path/posix';
import { envFileName, hasEnvironment, loadEnv, sharedEnvFile } from './environment.js';
import { type Layout, runtimeDir } from './layout.js';
import { type AsRoot, asRoot, rootTools } from './privilege.js';
import { all, program, quote, remotePath, render, type Script } from './shell.js';

export interface ServiceSpec {
  manager: 'systemd' | 'none';
  name: string;
  action: 'restart' | 'reload';
  /** systemd: the unit file's path inside the release, rendered at each activation. */
  unit?: string | undefined;
  command?: string[] | undefined;
  /** Only which keys it has matters here: the values travel in a file (environment.ts). */
  env?: Readonly<Record<string, unknown>> | undefined;
  /** A shared file (relative to <deploy_to>/shared) loaded before service.env. */
  env_file?: string | undefined;
  stop_timeout: number;
  /** `bundled`: the app finds the release's own Node first on its PATH. */
  runtime?: 'bundled' | 'host' | undefined;
}

/** The bundled Node's directory in the live release (`runtime: bundled`). */
export function runtimeBin(layout: Layout): string {
  return path.join(layout.current, runtimeDir, 'bin');
}

export function pidFile(layout: Layout, spec: ServiceSpec): string {
  return path.join(layout.shared, `${spec.name}.pid`);
}

/**
 * Program (shell.ts `program`) stopping the process group of the pid in a pidfile ($1): TERM,
 * up to $2 ms (stop_timeout) for the group to be gone, then KILL and up to 5 s more. Exits 0
 * when nothing of the group is left (or nothing ran) and removes the pidfile; exits 1 if the
 * group survives KILL. The group is the one the pidfile's process is in while it runs (one
 * started by an earlier pier, without setsid, leads no group), else the group it led. Decided
 * by exit codes only; pids 0 and 1 are refused, as `kill -TERM -1` signals everything, and so
 * is a pid whose process does not work under deploy_to ($3): a stale pidfile's pid, since
 * reused by another process (after a reboot, or a host's PID namespace restarted).
 * Files are read with the `read` builtin, and the waits between checks grow from 20 ms (a
 * stopped node is gone after one or two) to 250 ms: on a fleet, each process a step starts is
 * CPU on every host. Zombies do not count as running (see `live`).
 */
export const stopGroupScript = [
  'f=$1 limit=$2;',
  '[ -e "$f" ] || exit 0; pid=; { read -r pid < "$f"; } 2>/dev/null;',
  'case $pid in ""|*[!0-9]*|0|1) rm -f "$f"; exit 0;; esac;',
  // A pidfile outlives its process (a crash, a reboot), and its pid may since name another
  // process: the app runs in its release (started from `current`), so one whose working
  // directory is not under deploy_to ($3) is not the app, and the pidfile is stale.
  'root=$(cd "$3" 2>/dev/null && pwd -P) && cwd=$(cd "/proc/$pid/cwd" 2>/dev/null && pwd -P) || cwd=;',
  'case $cwd in "$root"|"$root"/*) ;; *) rm -f "$f"; exit 0;; esac;',
  'group=$pid;',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
  '{ read -r stat < /proc/$pid/stat; } 2>/dev/null && set -- ${stat##*)} && [ "$3" -gt 1 ] && group=$3;',
  // The leader's start time (stat field 22, in clock ticks since boot): once the group is gone
  // its number may be given to a new process, even a new group's leader (another app started
  // meanwhile), which must not be waited for or killed. While a member is left, the kernel
  // gives the number to no one, so a leader started at another time means the group is gone.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
  'born=; { read -r stat < /proc/$group/stat; } 2>/dev/null && set -- ${stat##*)} && born=${20};',
  'kill -TERM -$group 2>/dev/null || { rm -f "$f"; exit 0; };',
  // A zombie answers kill -0 until its parent reaps it: at once for an init that waits, seconds
  // later for a busy one, never for a parent that does not wait (a container's PID 1 without an
  // init). Telling whether a group holds more than zombies takes a look at every process (about
  // 25 µs each, in the kernel: a fleet of stops doing that at once starves the host), so none is
  // taken: the group is waited for while it answers kill -0, KILLed at stop_timeout, and then
  // counts as stopped once its leader is a zombie or gone (no member outlives SIGKILL, unless
  // stuck in the kernel, as a live leader is after 5 s more: then the stop fails). A leader
  // started at another time than the one signalled means the group is gone.
  'live() { kill -0 -$group 2>/dev/null || return 1;',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
  'if { read -r st < /proc/$group/stat; } 2>/dev/null; then set -- ${st##*)};',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
  '[ "${20}" = "$born" ] || return 1; [ "$1" != Z ] && return 0; fi;',
  '[ $killed = 1 ] && [ $waited -ge $((killedAt + 40)) ] && return 1; return 0; };',
  'waited=0 killed=0 killedAt=0;',
  'while live; do',
  '[ $killed = 0 ] && [ $waited -ge $limit ] && { kill -KILL -$group 2>/dev/null; killed=1; killedAt=$waited; };',
  '[ $waited -gt $((limit + 5000)) ] && { echo "process group $group survived SIGKILL" >&2; exit 1; };',
  'if [ $waited -lt 100 ] || [ $killed = 1 ]; then sleep 0.02; waited=$((waited + 20));',
  'elif [ $waited -lt 1000 ]; then sleep 0.1; waited=$((waited + 100));',
  'else sleep 0.25; waited=$((waited + 250)); fi;',
  'done;',
  'rm -f "$f"',
].join(' ');

export function stopService(layout: Layout, spec: ServiceSpec, root: AsRoot = asRoot(false)): Script {
  if (spec.manager === 'systemd') return root([rootTools.systemctl, 'stop', spec.name]);
  return program(stopGroupScript, [pidFile(layout, spec), String(spec.stop_timeout), layout.root]);
}

/**
 * Program (shell.ts `program`) starting the command `$4...` from `$2` (`current`) as the leader
 * of a new session and process group (util-linux setsid), stdin from /dev/null, stdout and
 * stderr appended to `$3`, its pid written to the pidfile `$1`. Exits 1, starting nothing,
 * while the pidfile names a running process or the log cannot be written. What
 * `start-stop-daemon --start --background --make-pidfile --chdir --output` did, from the
 * shell's builtins: that is one program less per host, and Debian's dpkg is no longer needed
 * on the host. The command's own failure shows later, in the process check (`appRunning`).
 */
function startProgram(prepare: string): string {
  return [
    'f=$1 dir=$2 log=$3; shift 3;',
    '{ read -r pid < "$f"; } 2>/dev/null && case $pid in ""|*[!0-9]*|0) ;; *)',
    'kill -0 "$pid" 2>/dev/null && { echo "already running: pid $pid (from $f)" >&2; exit 1; };; esac;',
    'cd "$dir" && { true >> "$log"; } || exit 1;',
    // The pid of a background job is the one setsid and the command keep: a job of a shell
    // without job control leads no group, so setsid(2) succeeds without forking again.
    `( exec </dev/null >>"$log" 2>&1; ${prepare}exec /usr/bin/setsid -- "$@" ) &`,
    'echo $! > "$f"',
  ].join(' ');
}

export function startService(layout: Layout, spec: ServiceSpec, root: AsRoot = asRoot(false)): Script {
  if (spec.manager === 'systemd') return root([rootTools.systemctl, 'start', spec.name]);
  // The environment is read by the job's shell just before it becomes the command: no value of
  // service.env is in any argv, and neither env(1) nor another sh runs for it.
  const setPath =
    spec.runtime === 'bundled' ? `PATH=${quote(`${runtimeBin(layout)}:${remotePath}`)}; export PATH; ` : '';
  const load = hasEnvironment(spec)
    ? `${render(loadEnv(path.join(layout.current, envFileName), sharedEnvFile(layout, spec.env_file)))} || exit 1; `
    : '';
  return program(startProgram(`${setPath}${load}`), [
    pidFile(layout, spec),
    layout.current,
    appLog(layout, spec),
    ...(spec.command ?? []),
  ]);
}

/**
 * `none`: exits 0 while the process pier started (the pidfile's pid) runs, 1 once it exited (a
 * zombie has: it only waits for its parent to reap it), 3 without a pid (the codes of
 * start-stop-daemon --status), from builtins alone.
 */
export function appRunning(layout: Layout, spec: ServiceSpec): Script {
  return program(appRunningProgram, [pidFile(layout, spec)]);
}

const appRunningProgram = [
  '{ read -r pid < "$1"; } 2>/dev/null || exit 3;',
  'case $pid in ""|*[!0-9]*|0) exit 3;; esac;',
  '{ read -r st < /proc/$pid/stat; } 2>/dev/null || exit 1;',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
  'set -- ${st##*)}; [ "$1" != Z ] || exit 1',
].join(' ');

/**
 * systemd: the unit's state, main pid and status text, as `ActiveState=…`, `MainPID=…` and
 * `StatusText=…` lines (parseServiceStatus). STATUS= of a Type=notify service: pier serve's master says there what
 * its workers start from and why its last reload was aborted; between its RELOADING=1 and
 * READY=1 the state is `reloading`. No privilege needed.
 */
export function serviceStatus(unit: string): Script {
  return all(['systemctl', 'show', '--property=ActiveState,MainPID,StatusText', unit]);
}

export interface ServiceStatus {
  activeState: string;
  /** '0' when the unit runs no process. */
  mainPid: string;
  statusText: string;
  /** pier serve's count of chain reloads that are over (`reloads: N` in its status). */
  reloads: number | undefined;
}

/** serviceStatus's output → the unit's state ('' for what it did not print). */
export function parseServiceStatus(stdout: string): ServiceStatus {
  const value = (key: string): string =>
    stdout
      .split('\n')
      .find((line) => line.startsWith(`${key}=`))
      ?.slice(key.length + 1)
      .trim() ?? '';
  const statusText = value('StatusText');
  const reloads = /(?:^|; )reloads: (\d+)(?:;|$)/.exec(statusText)?.[1];
  return {
    activeState: value('ActiveState'),
    mainPid: value('MainPID'),
    statusText,
    reloads: reloads === undefined ? undefined : Number(reloads),
  };
}

/** `none`: where the command's stdout and stderr go. */
export function appLog(layout: Layout, spec: ServiceSpec): string {
  return path.join(layout.log, `${spec.name}.log`);
}

/** After `current` moved: make the service serve it. A changed unit is applied by a restart only. */
export function applyRelease(
  layout: Layout,
  spec: ServiceSpec,
  unitChanged = false,
  root: AsRoot = asRoot(false),
): Script {
  if (spec.manager === 'systemd') {
    // reload-or-restart: a unit that is not running yet (first deploy) is started instead.
    const reload = spec.action === 'reload' && !unitChanged;
    return root([rootTools.systemctl, reload ? 'reload-or-restart' : 'restart', spec.name]);
  }
  return all(stopService(layout, spec), startService(layout, spec));
}
