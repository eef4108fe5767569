// `tenancy doctor`: inspects the live deployment for isolation faults and exits 1 on any.
import type { Command } from 'commander';
import type { DoctorReport } from '../index.ts';
import { exitCodes } from './cli-error.ts';
import { withCommonOptions, withTenancy, type CommonOptions } from './common.ts';
import { report } from './output.ts';

/** The report as an operator reads it: one line per check, each problem under its check. */
export function renderDoctorReport(value: DoctorReport): string {
  const lines: string[] = [];
  const databases = value.inspected.length;
  const tables = value.inspected.reduce((sum, db) => sum + db.tables, 0);
  lines.push(`inspected ${databases} database(s) holding ${tables} tenant table(s)`);
  for (const check of value.checks) {
    lines.push(`${check.ok ? 'ok  ' : 'FAIL'}  ${check.id}: ${check.title}`);
    for (const note of check.notes) lines.push(`        ${note}`);
    for (const f of check.findings) {
      lines.push(`        ${f.region}/${f.database}: ${f.subject} ${f.problem}`);
    }
  }
  const failed = value.checks.filter((check) => !check.ok).length;
  lines.push(failed === 0
    ? 'no isolation faults found'
    : `${failed} check(s) failed: the deployment does not keep tenants apart as promised`);
  return lines.join('\n');
}

/** Registers `doctor` under `program`. */
export function registerDoctorCommand(program: Command): void {
  withCommonOptions(program.command('doctor'))
    .description('inspect the deployment for isolation faults (exit 1 when any is found)')
    .action(async (options: CommonOptions) => {
      const found = await withTenancy(options, 'tenancy doctor', (tenancy) => tenancy.doctor());
      report(found, options, renderDoctorReport);
      if (!found.ok) process.exitCode = exitCodes.failed;
    });
}
