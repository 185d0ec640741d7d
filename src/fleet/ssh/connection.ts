// One SSH connection to one host, reused for every step. `exec` is the one executor: it renders
// a command tree (quoting every argument), runs it, and returns exit code and output. Scripts
// without input run one after another in the connection's long-lived shell (remote-shell.ts);
// an upload, whose bytes go to the script's stdin, gets an exec session of its own.
import type { Readable } from 'node:stream';
import type { Client, ClientChannel } from 'ssh2';
import { refusedCommand, sudoRefusedExit } from '../commands/privilege.js';
import { envelope, outputMarker, render, type Script, scriptOutput } from '../commands/shell.js';
import { channelRefused, HostError, RemoteCommandError, remoteTimeout } from './errors.js';
import { maxOutput, RemoteShell, shellCommand, shellProblem } from './remote-shell.js';

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

export class Connection {
  private closed = false;
  /** The connection's shell, and the start of a new one while it is under way. */
  private shell: RemoteShell | undefined;
  private opening: Promise<RemoteShell> | undefined;
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
  async exec(script: Script, options: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    // Input, or a shell busy with another script (a lock renewal during a health gate): a
    // session of its own, as concurrent as the callers.
    if (options.stdin !== undefined || this.shellBusy) return this.session(script, timeoutMs, options.stdin);
    return (await this.shellFor()).run(script, timeoutMs);
  }

  private get shellBusy(): boolean {
    return this.shell?.usable === true && this.shell.busy;
  }

  /** The connection's shell, started on first use and again after one ended or timed out. */
  private shellFor(): Promise<RemoteShell> {
    if (this.shell?.usable) return Promise.resolve(this.shell);
    this.opening ??= this.startShell().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private startShell(): Promise<RemoteShell> {
    return new Promise((resolve, reject) => {
      this.client.exec(shellCommand, (err, channel) => {
        if (err) {
          reject(channelRefused(err));
          return;
        }
        this.shell = new RemoteShell({
          input: channel,
          stdout: channel,
          stderr: channel.stderr,
          onClose: (listener) => channel.once('close', (code: number | null) => listener(code)),
          kill: () => channel.close(),
        });
        resolve(this.shell);
      });
    });
  }

  /** A script in an exec session of its own, its stdin fed from `stdin` (or empty). */
  private session(
    script: Script,
    timeoutMs: number,
    stdin: Readable | Buffer | undefined,
  ): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.client.exec(envelope(script), (err, channel) => {
        if (err) {
          reject(channelRefused(err));
          return;
        }
        collect(channel, render(script), timeoutMs, stdin).then(resolve, reject);
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

  /**
   * A TCP connection the host's sshd opens to `host`:`port` as the host sees them (its own
   * loopback, its resolver), carried by this SSH connection: a `direct-tcpip` channel, RFC 4254
   * section 7.2. Rejects with ForwardingRefused when the server allows no forwarding (reason 1,
   * administratively prohibited: `AllowTcpForwarding no`), remembered as `forwardingRefused` so
   * the caller asks once per connection; with the server's words otherwise (reason 2, connect
   * failed, when nothing listens there).
   */
  forward(host: string, port: number): Promise<ClientChannel> {
    if (this.forwardingRefused) return Promise.reject(new ForwardingRefused('refused before'));
    return new Promise((resolve, reject) => {
      this.client.forwardOut('127.0.0.1', 0, host, port, (err, channel) => {
        if (!err) resolve(channel);
        else if ((err as Error & { reason?: unknown }).reason === openAdministrativelyProhibited) {
          this.forwardingRefused = true;
          reject(new ForwardingRefused(err.message));
        } else reject(err);
      });
    });
  }

  /** The server refused a `forward` channel on this connection: it allows no forwarding. */
  forwardingRefused = false;

  close(): void {
    if (!this.closed) this.client.end();
  }
}

/** SSH_OPEN_ADMINISTRATIVELY_PROHIBITED, RFC 4254 section 5.1. */
const openAdministrativelyProhibited = 1;

/** The server allows no TCP forwarding on this connection (see Connection.forward). */
export class ForwardingRefused extends Error {
  constructor(said: string) {
    super(`the SSH server refuses TCP forwarding (${said})`);
    this.name = 'ForwardingRefused';
  }
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
      reject(remoteTimeout(command, timeoutMs));
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
