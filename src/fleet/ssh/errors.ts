// What can go wrong talking to one host. The rollout records `code` and the message per host and
// groups failures by message, so messages name the problem, not the host.
import { FleetError } from '../errors.js';

export class HostError extends FleetError {
  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'HostError';
  }
}

export class RemoteCommandError extends HostError {
  readonly remoteExit: number;
  readonly stderr: string;
  constructor(what: string, exitCode: number, stderr: string) {
    const detail = stderr.trim().split('\n').filter(Boolean).slice(-2).join(' / ');
    super('FLEET_REMOTE_COMMAND', `${what} failed (exit ${exitCode})${detail ? `: ${detail}` : ''}`);
    this.remoteExit = exitCode;
    this.stderr = stderr;
  }
}
