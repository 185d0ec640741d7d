// Hooks on the controller (Kamal's .kamal/hooks, declared in fleet.yml instead): `pre_deploy`
// runs before any host is contacted and a failure stops the deploy; `post_deploy` runs after the
// report is written. Each command runs with /bin/sh -c from the repository, its output shown
// with a prefix, in its own process group (so a timeout ends its children too), and with
// PIER_DEPLOY_ID, PIER_VERSION, PIER_ACTION, PIER_OWNER, PIER_HOST_COUNT and, after the deploy,
// PIER_OUTCOME and PIER_REPORT in its environment.
import { spawn } from 'node:child_process';
import { FleetError } from './errors.js';
import type { ProgressSink } from './report/progress.js';

export interface LocalHookContext {
  id: string;
  version: string;
  owner: string;
  hostCount: number;
  outcome?: string | undefined;
  report?: string | undefined;
}

export interface LocalHookOptions {
  cwd: string;
  timeoutMs: number;
  out: ProgressSink;
}

/** The variables a local hook sees besides the controller's own environment. */
export function localHookEnv(context: LocalHookContext): Record<string, string> {
  return {
    PIER_DEPLOY_ID: context.id,
    PIER_VERSION: context.version,
    PIER_ACTION: 'deploy',
    PIER_OWNER: context.owner,
    PIER_HOST_COUNT: String(context.hostCount),
    ...(context.outcome === undefined ? {} : { PIER_OUTCOME: context.outcome }),
    ...(context.report === undefined ? {} : { PIER_REPORT: context.report }),
  };
}

/** Runs the commands in order; throws FLEET_HOOK at the first that fails or times out. */
export async function runLocalHooks(
  point: 'pre_deploy' | 'post_deploy',
  commands: readonly string[],
  context: LocalHookContext,
  options: LocalHookOptions,
): Promise<void> {
  for (const command of commands) {
    const status = await runOne(command, point, localHookEnv(context), options);
    if (status !== 0) {
      const how =
        status === 'timeout' ? `timed out after ${options.timeoutMs / 1000} s` : `failed (exit ${status})`;
      throw new FleetError('FLEET_HOOK', `${point} hook \`${command}\` ${how}`, {
        hint:
          point === 'pre_deploy'
            ? 'nothing was deployed: fix what the hook reports, or remove it from hooks.pre_deploy'
            : 'the deploy itself is finished (see its report)',
      });
    }
  }
}

function runOne(
  command: string,
  point: string,
  vars: Record<string, string>,
  options: LocalHookOptions,
): Promise<number | 'timeout'> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], {
      cwd: options.cwd,
      env: { ...process.env, ...vars },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let timedOut = false;
    const group = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {}
    };
    const timer = setTimeout(() => {
      timedOut = true;
      group('SIGTERM');
      setTimeout(() => group('SIGKILL'), 5000).unref();
    }, options.timeoutMs);
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream.on('data', (chunk: Buffer) => {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) options.out.write(`${point}: ${line}\n`);
      });
      stream.on('end', () => {
        if (partial) options.out.write(`${point}: ${partial}\n`);
      });
    }
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new FleetError('FLEET_HOOK', `${point} hook \`${command}\` did not start: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve(timedOut ? 'timeout' : (code ?? (signal ? 128 : 1)));
    });
  });
}
