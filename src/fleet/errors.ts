// Errors of the fleet deployer. Each carries a stable `code`, a hint saying what to do, and the
// process exit code the CLI should end with; callers branch on `code`, never on the class.
import { CodedError, type CodedErrorOptions } from '../common/coded-error.js';

export class FleetError extends CodedError {
  constructor(code: string, message: string, options: CodedErrorOptions = {}) {
    super(code, message, options, 1);
  }
}

/**
 * One line for a report or a log, control characters escaped. A FleetError's message is already
 * complete (and free of per-host details, so failures group); other errors get their cause's.
 */
export function describeError(err: unknown): string {
  const text =
    err instanceof FleetError || !(err instanceof Error)
      ? err instanceof Error
        ? err.message
        : String(err)
      : `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ''}`;
  return text.replace(/[\r\n\0]+/g, ' ').trim();
}
