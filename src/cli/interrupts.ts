// Stopping a command that changes hosts without leaving them half-done or locked. Ctrl-C
// (SIGINT), SIGTERM (a cancelled CI job, `kill`, systemd) and SIGHUP (the terminal or SSH session
// went away) all mean "stop soon": the run's AbortSignal is aborted, the command starts no new
// host, lets the hosts in flight finish, releases its locks, and ends with 128 + the number of
// the first signal (130, 143, 129). A second signal of any of them exits at once, as a crash would.
import { CodedError } from '../common/coded-error.js';

/** The shell's convention, 128 + the signal number (docs/fleet.md lists them per command). */
export const interruptExitCodes = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

type Interrupt = keyof typeof interruptExitCodes;
const interrupts = Object.keys(interruptExitCodes) as Interrupt[];

export interface InterruptOptions {
  /** Where the notices go (the command's output). */
  out?: { write(text: string): void };
  /** What the command does after the first signal, e.g. "finishing the hosts in flight". */
  finishing?: string;
  /** What is left after a second signal stops it at once, and what to do about it. */
  leftBehind?: string;
}

/**
 * Runs `run` with SIGINT, SIGTERM and SIGHUP turned into an abort of the signal it gets. The
 * abort's reason is a CodedError `INTERRUPTED` carrying the exit code, so a run interrupted
 * before it changed anything can simply `signal.throwIfAborted()`. The handlers are removed
 * when `run` settles; its value or error passes through.
 */
export async function withInterrupts<T>(
  run: (signal: AbortSignal) => Promise<T>,
  options: InterruptOptions = {},
): Promise<T> {
  const out = options.out ?? process.stdout;
  const finishing = options.finishing ?? 'finishing the hosts in flight, then releasing the locks';
  const leftBehind = options.leftBehind ?? 'locks left behind stay until they expire or `pier unlock`';
  const controller = new AbortController();
  const onSignal = (name: Interrupt): void => {
    if (controller.signal.aborted) {
      out.write(`\n${name} again: stopping now; ${leftBehind}\n`);
      process.exit(interruptExitCodes[name]);
    }
    out.write(`\ninterrupted: ${finishing} (${name}; a second signal stops at once)\n`);
    controller.abort(
      new CodedError('INTERRUPTED', `interrupted by ${name}`, { exitCode: interruptExitCodes[name] }),
    );
  };
  // Output that can no longer be written (the terminal of a SIGHUP, a closed pipe) must not
  // kill the run half-way through its hosts: the work and the lock release matter more.
  const ignore = (): void => {};
  process.stdout.on('error', ignore);
  process.stderr.on('error', ignore);
  for (const name of interrupts) process.on(name, onSignal);
  try {
    return await run(controller.signal);
  } finally {
    for (const name of interrupts) process.off(name, onSignal);
    process.stdout.off('error', ignore);
    process.stderr.off('error', ignore);
  }
}

/** The exit code of a run that ended interrupted: 128 + its first signal (130 if unknown). */
export function interruptExitCode(signal: AbortSignal): number {
  const code = (signal.reason as { exitCode?: unknown } | undefined)?.exitCode;
  return typeof code === 'number' ? code : interruptExitCodes.SIGINT;
}
