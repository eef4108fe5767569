// Errors of the command line itself (a file it cannot read, a key it cannot find), with exit codes.

/** Exit codes: 0 done, 1 failed, 2 wrong usage, 3 import finished with lines skipped. */
export const exitCodes = {
  ok: 0,
  failed: 1,
  usage: 2,
  partial: 3,
  interrupted: 130,
} as const;

/** A failure the CLI reports itself; library failures stay TenancyError. */
export class CliError extends Error {
  readonly code: string;
  readonly exitCode: number;

  constructor(code: string, message: string, exitCode: number = exitCodes.failed) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.exitCode = exitCode;
  }
}
