// Errors of the fleet deployer. Each carries a stable `code`, a hint saying what to do, and the
// process exit code the CLI should end with; callers branch on `code`, never on the class.

export class FleetError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: number;
  constructor(
    code: string,
    message: string,
    options: { hint?: string; exitCode?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'FleetError';
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
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
