// Errors of the systemd and infrastructure-code part. Each carries a stable `code`, a `hint`
// saying what to do, and the exit code the CLI ends with (2: the input is wrong).

export class InfraError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: number;
  constructor(
    code: string,
    message: string,
    options: { hint?: string; exitCode?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'InfraError';
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 2;
  }
}
