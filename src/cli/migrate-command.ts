// `tenancy migrate`: brings every tenant to the latest tenant-table migration.
import type { Command } from 'commander';
import { withCommonOptions, withTenancy, type CommonOptions } from './common.ts';
import { report } from './output.ts';

/** Registers `migrate` under `program`. */
export function registerMigrateCommand(program: Command): void {
  withCommonOptions(program.command('migrate'))
    .description('apply pending migrations to every tenant')
    .action(async (options: CommonOptions) => {
      // Opened without migrating, so the report can name the tenants this command moved.
      const result = await withTenancy(options, 'tenancy migrate',
        (tenancy) => tenancy.migrate(), { migrate: false });
      report(result, options, (r) => r.migrated.length === 0
        ? `every tenant is at version ${r.version}`
        : `migrated ${r.migrated.length} tenant(s) to version ${r.version}: ` +
          r.migrated.join(', '));
    });
}
