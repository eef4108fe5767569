// Prints what a command reports: JSON on stdout with --json, readable text otherwise.
import { CommanderError } from 'commander';
import { isTenancyError } from '../index.ts';
import { CliError, exitCodes } from './cli-error.ts';

export interface OutputOptions {
  json?: boolean | undefined;
}

/**
 * Writes `value` as one line of JSON, or the text `render` makes of it. One line, because
 * `serve` shares stdout with the service's JSON log lines.
 */
export function report<T>(value: T, options: OutputOptions, render: (value: T) => string): void {
  const text = options.json === true ? JSON.stringify(value) : render(value);
  process.stdout.write(`${text}\n`);
}

/** Lines of a note meant for the person at the terminal; kept off stdout so JSON stays clean. */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** Rows padded into aligned columns; the first row is the header. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd())
    .join('\n');
}

/** A date as ISO text, or `-` for none. */
export function when(value: Date | string | null | undefined): string {
  if (value === null || value === undefined) return '-';
  return new Date(value).toISOString();
}

/**
 * Prints `error [CODE]: message` on stderr (never a stack trace) and returns the exit code.
 * Commander has already printed its own usage errors by the time they arrive here.
 */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    return err.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
  }
  if (isTenancyError(err)) {
    note(`error [${err.code}]: ${err.message}`);
    return exitCodes.failed;
  }
  if (err instanceof CliError) {
    note(`error [${err.code}]: ${err.message}`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  // A system error (EADDRINUSE, EACCES, …) names itself better than INTERNAL would.
  const system = (err as NodeJS.ErrnoException | undefined)?.code;
  note(`error [${typeof system === 'string' ? system : 'INTERNAL'}]: ${message}`);
  return exitCodes.failed;
}
