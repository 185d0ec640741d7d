// Running fleet.yml hooks on a host (commands/hooks.ts), and the `once` hooks: run on the first
// host about to be switched, exactly once per deploy, every other host waiting for them. A hook
// that fails is that host's failure (FLEET_HOOK), handled like a failed health gate by the runner.

import { sharedEnvFile } from '../commands/environment.js';
import { type HookPoint, hookTimedOutExits, runHook } from '../commands/hooks.js';
import { layoutOf } from '../commands/layout.js';
import { outputMarker, scriptOutput } from '../commands/shell.js';
import type { Fleet, Host } from '../inventory/inventory.js';
import type { Connection } from '../ssh/connection.js';
import { HostError } from '../ssh/errors.js';

/** One hook command's run, as kept in the report (output: its last bytes, secrets redacted). */
export interface HookRun {
  hook: HookPoint;
  command: string;
  host: string;
  exit: number;
  durationMs: number;
  output: string;
}

export class HookError extends HostError {
  readonly run: HookRun;
  constructor(run: HookRun, timeoutMs: number) {
    const timedOut = hookTimedOutExits.includes(run.exit);
    const last = run.output.trim().split('\n').slice(-1)[0]?.slice(0, 200) ?? '';
    super(
      'FLEET_HOOK',
      `${run.hook} hook \`${short(run.command)}\` ${timedOut ? `timed out after ${timeoutMs / 1000} s` : `failed (exit ${run.exit})`}${last && !timedOut ? `: ${last}` : ''}`,
      { hint: `its output is in the report and on the host in .pier-hooks/ of the release` },
    );
    this.run = run;
  }
}

/** Room for the connection to hear `timeout` end the hook before it gives up on the channel. */
const channelGraceMs = 15_000;

/** Runs the commands of `point` in order; throws HookError at the first that fails. */
export async function runHooks(
  connection: Connection,
  host: Host,
  fleet: Fleet,
  version: string,
  point: HookPoint,
  redact: (text: string) => string,
): Promise<HookRun[]> {
  const layout = layoutOf(host.deployTo);
  const envFile = sharedEnvFile(layout, fleet.service.env_file);
  const runs: HookRun[] = [];
  for (const [index, command] of fleet.hooks[point].entries()) {
    const started = Date.now();
    const result = await connection.exec(
      runHook(
        layout,
        version,
        point,
        index,
        command,
        fleet.hooks.timeoutMs,
        envFile,
        fleet.runtime === 'bundled',
      ),
      { timeoutMs: fleet.hooks.timeoutMs + channelGraceMs },
    );
    const run: HookRun = {
      hook: point,
      command,
      host: host.name,
      exit: result.code,
      durationMs: Date.now() - started,
      output: redact(result.stdout || ownStderr(result.stderr)),
    };
    runs.push(run);
    if (result.code !== 0) throw new HookError(run, fleet.hooks.timeoutMs);
  }
  return runs;
}

/**
 * The `once` hooks of one deploy. `done` (from the journal on --resume) skips them. The first
 * host to call `before` runs them; the others wait for that run.
 */
export class OnceHooks {
  private pending: Promise<boolean> | undefined;

  constructor(
    private readonly run: (connection: Connection, host: Host) => Promise<HookRun[]>,
    private done: boolean,
    private readonly onDone: (host: Host, runs: HookRun[]) => void,
  ) {}

  /**
   * Resolves true when the hooks have run (here or elsewhere), false when they failed on another
   * host; throws the HookError when they failed on this one.
   */
  async before(connection: Connection, host: Host): Promise<boolean> {
    if (this.done) return true;
    if (this.pending) return this.pending;
    let settle: (ok: boolean) => void = () => {};
    this.pending = new Promise((resolve) => {
      settle = resolve;
    });
    try {
      const runs = await this.run(connection, host);
      this.done = true;
      this.onDone(host, runs);
      settle(true);
      return true;
    } catch (err) {
      settle(false);
      throw err;
    }
  }
}

/** What the script wrote on stderr (the executor hands back the raw text when it wrote nothing). */
function ownStderr(stderr: string): string {
  return stderr.includes(outputMarker) ? scriptOutput(stderr) : stderr;
}

function short(command: string): string {
  const line = command.replace(/\s+/g, ' ').trim();
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}
