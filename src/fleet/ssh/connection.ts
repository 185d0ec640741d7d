// One SSH connection to one host, reused for every step. `exec` is the one executor: it renders
// a command tree (quoting every argument), runs it, and returns exit code and output.
import type { Readable } from 'node:stream';
import type { Client, ClientChannel } from 'ssh2';
import { refusedCommand, sudoRefusedExit } from '../commands/privilege.js';
import { envelope, outputMarker, render, type Script, scriptOutput } from '../commands/shell.js';
import { HostError, RemoteCommandError } from './errors.js';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Bytes or a stream fed to the command's stdin (uploads). */
  stdin?: Readable | Buffer;
  timeoutMs?: number;
}

/** Output kept per command: enough for probes, bounded so 5,000 hosts stay small. */
const maxOutput = 1024 * 1024;

export class Connection {
  private closed = false;
  constructor(
    readonly client: Client,
    private readonly defaultTimeoutMs: number,
  ) {
    client.once('close', () => {
      this.closed = true;
    });
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Runs the script; resolves with any exit code (callers decide what a failure means). */
  exec(script: Script, options: ExecOptions = {}): Promise<ExecResult> {
    const command = envelope(script);
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, channel) => {
        if (err) {
          reject(new HostError('FLEET_SSH_CHANNEL', `cannot run a command: ${err.message}`, { cause: err }));
          return;
        }
        collect(channel, render(script), timeoutMs, options.stdin).then(resolve, reject);
      });
    });
  }

  /**
   * Runs the script and fails with its stderr unless it exits 0. A privileged step that sudo
   * refused (exit 97, see privilege.ts) fails with FLEET_SUDO naming the command.
   */
  async check(what: string, script: Script, options: ExecOptions = {}): Promise<string> {
    const result = await this.exec(script, options);
    if (result.code !== 0) throw failure(what, result);
    return result.stdout;
  }

  /**
   * Opens a long-running command (the relay) and hands its channel to the caller; what the
   * channel yields on stdout starts with the envelope's marker line (see `outputMarker`).
   */
  open(script: Script): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.exec(envelope(script), (err, channel) => (err ? reject(err) : resolve(channel)));
    });
  }

  close(): void {
    if (!this.closed) this.client.end();
  }
}

/** Why a login shell could not run the envelope (a nologin shell, no /bin/sh, no base64). */
function shellProblem(stderr: string, exit: number): string {
  const said = stderr.trim().split('\n').slice(-2).join(' / ');
  return `the login shell did not run /bin/sh (exit ${exit})${said ? `: ${said}` : ''}; pier needs /bin/sh and base64 on the host and a login shell that can start a program`;
}

/**
 * The error for a script that exited non-zero: FLEET_SUDO naming the command sudo refused
 * (exit 97, see privilege.ts), otherwise RemoteCommandError with the script's last words.
 */
export function failure(what: string, result: ExecResult): HostError {
  if (result.code === sudoRefusedExit) {
    const refused = refusedCommand(result.stdout) ?? 'a command';
    return new HostError(
      'FLEET_SUDO',
      `${what}: sudo -n refused \`${refused}\` (no rule allows it without a password)`,
      {
        hint: 'install the rule `pier setup --print-sudoers` prints (setup.sudoers: true makes `pier setup` install it)',
      },
    );
  }
  return new RemoteCommandError(what, result.code, result.stderr || result.stdout);
}

function collect(
  channel: ClientChannel,
  command: string,
  timeoutMs: number,
  stdin: Readable | Buffer | undefined,
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      channel.close();
      const name = command.split(' ')[0];
      reject(
        new HostError(
          'FLEET_REMOTE_TIMEOUT',
          `${name} did not finish within ${Math.round(timeoutMs / 1000)} s`,
        ),
      );
    }, timeoutMs);
    channel.on('data', (chunk: Buffer) => {
      if (stdout.length < maxOutput) stdout += chunk.toString('utf8');
    });
    channel.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-64 * 1024);
    });
    channel.on('error', (err: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new HostError('FLEET_SSH_CHANNEL', `command channel failed: ${err.message}`, { cause: err }));
    });
    channel.on('close', (code: number | null, signal?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const exit = code ?? (signal ? 128 : 255);
      if (!stdout.includes(outputMarker)) {
        // The login shell never started the script: its own complaint is the only clue.
        resolve({ code: exit === 0 ? 255 : exit, stdout: '', stderr: shellProblem(stderr, exit) });
        return;
      }
      resolve({ code: exit, stdout: scriptOutput(stdout), stderr: scriptOutput(stderr) || stderr });
    });
    if (stdin === undefined) channel.end();
    else if (Buffer.isBuffer(stdin)) channel.end(stdin);
    else {
      stdin.on('error', () => channel.destroy());
      stdin.pipe(channel);
    }
  });
}
