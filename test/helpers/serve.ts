// Runs `pier serve` as a real child process for integration tests: waits for the master to be
// ready, exposes the bound addresses (port 0 is resolved), the log, signals, and a clean stop.
import { type ChildProcess, spawn } from 'node:child_process';
import { type LoadResult, wrk } from './load.js';
import { pierBin } from './paths.js';

export interface Served {
  child: ChildProcess;
  pid: number;
  /** `protocol → host:port or path`, in configuration order. */
  addresses: Array<{ protocol: string; address: string }>;
  url: string;
  log: () => string;
  output: () => string;
  waitForLog: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
  signal: (name: NodeJS.Signals) => void;
  stop: () => Promise<number | null>;
}

export async function startServe(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; bin?: string; node?: string } = {},
): Promise<Served> {
  const child = spawn(options.node ?? process.execPath, [options.bin ?? pierBin, 'serve', ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  let output = '';
  let stopping = false;
  const waiters = new Set<() => void>();
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    log += text;
    for (const wake of waiters) wake();
  });
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    output += text;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const waitForLog = (pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const match = log.match(pattern);
        if (match) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(match);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`pier serve did not log ${pattern} within ${timeoutMs} ms; log:\n${log}`));
      }, timeoutMs);
      waiters.add(check);
      void exited.then(() => setTimeout(check, 10));
      check();
    });

  await Promise.race([
    waitForLog(/master\.ready/),
    exited.then((code) => {
      throw new Error(`pier serve exited with ${code} before it was ready; log:\n${log}`);
    }),
  ]);
  // Text lines (`socket.bound protocol=http address=...`) or JSON lines, per logformat.
  const addresses = [
    ...log.matchAll(
      /socket\.bound protocol=(\w+) address=(\S+)|"event":"socket\.bound","protocol":"(\w+)","address":"([^"]+)"/g,
    ),
  ].map((m) => ({ protocol: m[1] ?? m[3] ?? '', address: m[2] ?? m[4] ?? '' }));
  const first = addresses[0]?.address ?? '';
  return {
    child,
    pid: child.pid ?? 0,
    addresses,
    url: `http://${first}`,
    log: () => log,
    output: () => output,
    waitForLog,
    signal: (name) => {
      if (child.exitCode === null) {
        if (name === 'SIGTERM' || name === 'SIGINT' || name === 'SIGQUIT') stopping = true;
        process.kill(child.pid ?? 0, name);
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // A stop the test already asked for is only waited for: a second SIGTERM can land while
        // Node tears the process down, after it has put back the default signal actions, and
        // the exit status would then say "killed by SIGTERM" for a clean exit.
        if (!stopping) process.kill(child.pid ?? 0, 'SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return child.exitCode;
    },
  };
}

/** Runs `pier serve` expecting it to refuse to start; resolves with its exit code and stderr. */
export function serveFails(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [pierBin, 'serve', ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/**
 * `reloads` chain reloads (SIGHUP, each awaited to its `reload.done`) while wrk loads the server
 * with 32 connections for 8 s; resolves with wrk's result.
 */
export async function reloadsUnderLoad(served: Served, reloads: number): Promise<LoadResult> {
  const load = wrk(`${served.url}/`, 8, 32);
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (let i = 0; i < reloads; i++) {
    served.signal('SIGHUP');
    await served.waitForLog(new RegExp(`(reload\\.done[^\\n]*\\n[\\s\\S]*){${i + 1}}`), 10_000);
  }
  return load;
}
