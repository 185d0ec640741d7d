// One long-lived /bin/sh per connection, fed one script at a time. An SSH exec session costs the
// host a fork of sshd's session process, the login shell, /bin/sh and base64 (about 4 ms of CPU
// here, against 2 ms for a raw `true`); a script sent to a shell that is already running costs a
// subshell fork. With a dozen steps per host and thousands of hosts, that is most of what a
// deploy asks of the hosts beyond the handshake.
//
// Framing: each script runs as `( SCRIPT\n) </dev/null`, so `exit` ends only the subshell, the
// shell's own input (the scripts still to come) is never read by a command, and a script cannot
// change the next one's directory or variables. After it the shell prints an end line on stdout
// carrying the exit status, and one on stderr; a script's result is complete when both arrived
// (the two streams are separate pipes, either may come first). End lines carry a random tag and
// a sequence number, so output that happens to look like one cannot end a script early.
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { outputMarker, prelude, render, type Script } from '../commands/shell.js';
import { HostError, remoteTimeout } from './errors.js';

export interface ShellResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The pipes of a started shell: an SSH channel, or a local child process in tests. */
export interface ShellStreams {
  input: Writable;
  stdout: Readable;
  stderr: Readable;
  /** Called once when the shell is gone, with its exit status when known. */
  onClose(listener: (code: number | null) => void): void;
  /** Ends the shell (a timed-out script): closes the channel or kills the process. */
  kill(): void;
}

/**
 * The command line that starts a shell. Every login shell pier meets (sh, bash, dash, fish,
 * tcsh, zsh) parses it the same way and replaces itself with /bin/sh reading its input, so,
 * unlike a script's envelope (shell.ts), it needs no base64 and no second shell; the PATH,
 * locale and marker lines (`prelude`) are the first thing that shell reads.
 */
export const shellCommand = 'exec /bin/sh -s';

/** Output kept per script: enough for probes, bounded so 5,000 hosts stay small. */
export const maxOutput = 1024 * 1024;
const maxStderr = 64 * 1024;
/** What is kept of stdout's end while the end line is awaited beyond `maxOutput`. */
const tailKept = 8 * 1024;

interface Pending {
  end: string;
  resolve: (result: ShellResult) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Why a login shell could not run the envelope (a nologin shell, no /bin/sh, no base64). */
export function shellProblem(stderr: string, exit: number): string {
  const said = stderr.trim().split('\n').slice(-2).join(' / ');
  return `the login shell did not run /bin/sh (exit ${exit})${said ? `: ${said}` : ''}; pier needs /bin/sh and base64 on the host and a login shell that can start a program`;
}

export class RemoteShell {
  private readonly tag = randomBytes(4).toString('hex');
  private seq = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private pending: Pending | undefined;
  private out = '';
  private err = '';
  private outStarted = false;
  private errStarted = false;
  private closed = false;
  private closeCode: number | null = null;
  /** Killed after a timeout: whatever it was doing is abandoned, a new shell takes over. */
  private broken = false;

  constructor(private readonly streams: ShellStreams) {
    const outText = new StringDecoder('utf8');
    const errText = new StringDecoder('utf8');
    streams.stdout.on('data', (chunk: Buffer) => {
      this.out += outText.write(chunk);
      this.advance();
    });
    streams.stderr.on('data', (chunk: Buffer) => {
      this.err += errText.write(chunk);
      this.advance();
    });
    // A shell whose input is gone exits; EPIPE on a closing channel is not the script's error.
    streams.input.on('error', () => {});
    streams.input.write(`${prelude}\n`);
    streams.onClose((code) => {
      this.closed = true;
      this.closeCode = code;
      this.settleOnClose();
    });
  }

  /** False once the shell ended or was killed: the connection starts another. */
  get usable(): boolean {
    return !this.closed && !this.broken;
  }

  /**
   * Runs `script` after the ones before it; resolves with its exit status and output (stdout's
   * head up to 1 MiB, stderr's last 64 KiB). Rejects with HostError FLEET_REMOTE_TIMEOUT after
   * `timeoutMs` (the shell is then killed), or FLEET_SSH_CHANNEL when the shell ended first.
   */
  run(script: Script, timeoutMs: number): Promise<ShellResult> {
    this.waiting++;
    const next = this.queue.then(() => {
      this.waiting--;
      return this.start(script, timeoutMs);
    });
    this.queue = next.catch(() => {});
    return next;
  }

  /** A script runs or waits: another caller would queue behind it (a health gate's seconds). */
  get busy(): boolean {
    return this.pending !== undefined || this.waiting > 0;
  }

  private waiting = 0;

  /** Ends the shell's input: it exits after the script it runs. */
  end(): void {
    this.streams.input.end();
  }

  private start(script: Script, timeoutMs: number): Promise<ShellResult> {
    if (!this.usable) return Promise.reject(this.endedError());
    const end = `--pier-end-${this.tag}-${++this.seq}--`;
    const command = render(script);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        this.broken = true;
        this.streams.kill();
        reject(remoteTimeout(command, timeoutMs));
      }, timeoutMs);
      this.pending = { end, resolve, reject, timer };
      this.streams.input.write(
        `( ${command}\n) </dev/null; printf '\\n%s %s\\n' ${end} "$?"; printf '\\n%s\\n' ${end} >&2\n`,
      );
      this.advance();
    });
  }

  /** Cuts what the login environment printed before the shell started, then looks for the end. */
  private advance(): void {
    if (!this.outStarted) {
      const at = this.out.indexOf(`${outputMarker}\n`);
      if (at === -1) {
        this.out = this.out.slice(-outputMarker.length);
      } else {
        this.outStarted = true;
        this.out = this.out.slice(at + outputMarker.length + 1);
      }
    }
    if (!this.errStarted) {
      const at = this.err.indexOf(`${outputMarker}\n`);
      if (at !== -1) {
        this.errStarted = true;
        this.err = this.err.slice(at + outputMarker.length + 1);
      } else {
        // Kept for the message should the shell never start (its own complaint is the clue).
        this.err = this.err.slice(-maxStderr);
      }
    }
    const pending = this.pending;
    if (!pending || !this.outStarted || !this.errStarted) return;
    if (this.out.length > maxOutput + 2 * tailKept) {
      // Past maxOutput only its head is kept, and a tail where the end line will be.
      this.out = this.out.slice(0, maxOutput) + this.out.slice(-tailKept);
    }
    const outEnd = this.out.indexOf(`\n${pending.end} `);
    const statusEnd = outEnd === -1 ? -1 : this.out.indexOf('\n', outEnd + 1);
    const errEnd = this.err.indexOf(`\n${pending.end}\n`);
    if (statusEnd === -1 || errEnd === -1) {
      if (errEnd === -1 && this.err.length > 2 * maxStderr) this.err = this.err.slice(-maxStderr);
      return;
    }
    const code = Number(this.out.slice(outEnd + pending.end.length + 2, statusEnd));
    const stdout = this.out.slice(0, Math.min(outEnd, maxOutput));
    const stderr = this.err.slice(0, errEnd).slice(-maxStderr);
    this.out = this.out.slice(statusEnd + 1);
    this.err = this.err.slice(errEnd + pending.end.length + 2);
    this.pending = undefined;
    clearTimeout(pending.timer);
    pending.resolve({ code: Number.isInteger(code) ? code : 255, stdout, stderr });
  }

  private settleOnClose(): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    clearTimeout(pending.timer);
    if (!this.outStarted) {
      // The login shell never started /bin/sh: what it said is all there is.
      const exit = this.closeCode ?? 255;
      pending.resolve({ code: exit === 0 ? 255 : exit, stdout: '', stderr: shellProblem(this.err, exit) });
      return;
    }
    pending.reject(this.endedError());
  }

  private endedError(): HostError {
    const said = this.err.trim().split('\n').slice(-2).join(' / ');
    return new HostError(
      'FLEET_SSH_CHANNEL',
      `the remote shell ended${this.closeCode === null ? '' : ` (exit ${this.closeCode})`}${said ? `: ${said}` : ''}`,
    );
  }
}
