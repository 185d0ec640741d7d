// Runs a third-party server as a foreground child process with its own config in a temp
// directory: waits for its loopback ports, keeps what it prints, stops it by its PID with the
// signal that makes that server exit, and removes the directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { waitForPort } from './net.js';

export interface Foreground {
  /** The temp directory holding the config; removed on stop. */
  dir: string;
  pid: number;
  /** What the process wrote to stdout and stderr. */
  output: () => string;
  stop: () => Promise<void>;
}

/** A temp directory for a server's config, readable by servers that drop privileges. */
export function configDir(name: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `pier-${name}-`));
  chmodSync(dir, 0o755);
  return dir;
}

export async function startForeground(
  dir: string,
  program: string,
  args: string[],
  ports: number[],
  stopSignal: NodeJS.Signals,
): Promise<Foreground> {
  const child: ChildProcess = spawn(program, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    output += text;
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    output += text;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await Promise.race([
      Promise.all(ports.map((port) => waitForPort(port))),
      exited.then(() => {
        throw new Error(`${path.basename(program)} exited at start (config in ${dir}):\n${output}`);
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    pid: child.pid ?? 0,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(stopSignal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
