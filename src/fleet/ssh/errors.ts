// What can go wrong talking to one host. The rollout records `code` and the message per host and
// groups failures by message, so messages name the problem, not the host.
import { printable } from '../../common/printable.js';
import { FleetError } from '../errors.js';

export class HostError extends FleetError {
  /** `message` and `hint` may carry a host's own text: its control characters are shown, not sent. */
  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code, printable(message), {
      ...options,
      ...(options.hint === undefined ? {} : { hint: printable(options.hint) }),
    });
    this.name = 'HostError';
  }
}

/** A command that ran past its time (`timeoutMs`): named by its first word. */
export function remoteTimeout(command: string, timeoutMs: number): HostError {
  const name = command.split(' ')[0];
  return new HostError(
    'FLEET_REMOTE_TIMEOUT',
    `${name} did not finish within ${Math.round(timeoutMs / 1000)} s`,
  );
}

/** sshd refused to open a channel for a command (MaxSessions, a closing connection). */
export function channelRefused(err: Error): HostError {
  return new HostError('FLEET_SSH_CHANNEL', `cannot run a command: ${err.message}`, { cause: err });
}

export class RemoteCommandError extends HostError {
  readonly remoteExit: number;
  readonly stderr: string;
  constructor(what: string, exitCode: number, stderr: string, hint?: string) {
    const detail = stderr.trim().split('\n').filter(Boolean).slice(-2).join(' / ');
    super('FLEET_REMOTE_COMMAND', `${what} failed (exit ${exitCode})${detail ? `: ${detail}` : ''}`, {
      hint,
    });
    this.remoteExit = exitCode;
    this.stderr = stderr;
  }
}
