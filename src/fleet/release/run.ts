// Runs a local program (git, npm, tar) without a shell and fails with the end of its stderr (of
// its stdout when stderr is empty: tsc and many build tools report there). Local commands
// are argv arrays too; nothing here is ever joined into a shell string.
import { spawn } from 'node:child_process';
import { FleetError } from '../errors.js';

export interface RunOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** Aborting it ends the program (SIGTERM) and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export function run(argv: readonly string[], options: RunOptions): Promise<string> {
  const [program = '', ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      signal: options.signal,
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-16 * 1024);
    });
    child.on('error', (err) =>
      reject(
        options.signal?.aborted
          ? options.signal.reason
          : new FleetError('FLEET_LOCAL_COMMAND', `cannot run ${program}: ${err.message}`, { cause: err }),
      ),
    );
    child.on('close', (code) => {
      if (options.signal?.aborted) reject(options.signal.reason);
      else if (code === 0) resolve(stdout);
      else {
        const said = stderr.trim() || stdout.trim();
        const detail = said.split('\n').slice(-3).join(' / ') || 'it printed nothing';
        reject(
          new FleetError(
            'FLEET_LOCAL_COMMAND',
            `${argv.slice(0, 3).join(' ')} failed (exit ${code}): ${detail}`,
          ),
        );
      }
    });
    if (options.input !== undefined) {
      child.stdin?.on('error', () => {});
      child.stdin?.end(options.input);
    }
  });
}

/** Like run, but "exit 1" means false instead of an error (git's yes/no questions). */
export async function succeeds(argv: readonly string[], options: RunOptions): Promise<boolean> {
  try {
    await run(argv, options);
    return true;
  } catch {
    return false;
  }
}
