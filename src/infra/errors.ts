// Errors of the systemd and infrastructure-code part. Each carries a stable `code`, a `hint`
// saying what to do, and the exit code the CLI ends with (2: the input is wrong).
import { CodedError, type CodedErrorOptions } from '../common/coded-error.js';

export class InfraError extends CodedError {
  constructor(code: string, message: string, options: CodedErrorOptions = {}) {
    super(code, message, options, 2);
  }
}
