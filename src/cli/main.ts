// The `tenancy` command line: builds the commands and turns every failure into an exit code.
import { Command } from 'commander';
import { registerApiKeysCommand } from './api-keys-command.ts';
import { registerAuditCommand } from './audit-command.ts';
import { registerBackupCommand } from './backup-command.ts';
import { registerDoctorCommand } from './doctor-command.ts';
import { registerImportCommand } from './import-command.ts';
import { registerKeysCommand } from './keys-command.ts';
import { registerMigrateCommand } from './migrate-command.ts';
import { reportError } from './output.ts';
import { registerResidencyCommand } from './residency-command.ts';
import { registerServeCommand } from './serve-command.ts';
import { registerTenantsCommand } from './tenants-command.ts';

/** The command tree. Subcommands inherit the error handling set here before they are added. */
export function buildProgram(): Command {
  const program = new Command('tenancy')
    .description("keep each tenant's data apart on PostgreSQL")
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({
      // Commander's usage errors read `error: …`; ours all carry a code in brackets.
      outputError: (text, write) => write(text.replace(/^error: /, 'error [USAGE]: ')),
    });
  registerServeCommand(program);
  registerTenantsCommand(program);
  registerKeysCommand(program);
  registerApiKeysCommand(program);
  registerMigrateCommand(program);
  registerImportCommand(program);
  registerAuditCommand(program);
  registerDoctorCommand(program);
  registerBackupCommand(program);
  registerResidencyCommand(program);
  return program;
}

/**
 * Runs the CLI on `argv` (as in `process.argv`) and sets `process.exitCode`: 0 done, 1 failed,
 * 2 wrong usage, 3 import with skipped lines. Errors print as `error [CODE]: message`.
 */
export async function main(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (err) {
    process.exitCode = reportError(err);
  }
}
