// `tenancy residency report [<tenant>]` and `tenancy tenants move <tenant> --region <r>` or
// `--isolation <i>`.
import type { Command } from 'commander';
import type { MoveResult } from '../residency/region-move.ts';
import type { ResidencyReport } from '../residency/residency-report.ts';
import type { Isolation } from '../config/schema.ts';
import type { MoveTarget } from '../tenant-operations.ts';
import { CliError, exitCodes } from './cli-error.ts';
import { withCommonOptions, withTenancy, type CommonOptions } from './common.ts';
import { note, report, table } from './output.ts';

/** One block per tenant: where its things are, then what is out of place. */
export function renderResidencyReport(value: ResidencyReport): string {
  const lines: string[] = [`regions: ${value.regions.join(', ')}`];
  for (const tenant of value.tenants) {
    lines.push('', `${tenant.tenantId} (region ${tenant.region}, ${tenant.isolation} ` +
      `isolation, ${tenant.status})`);
    if (tenant.places.length > 0) {
      lines.push(table([['  REGION', 'KIND', 'WHERE', 'COUNT'],
        ...tenant.places.map((p) => [`  ${p.region}`, p.kind, p.where, String(p.count)])]));
    }
    for (const f of tenant.findings) {
      lines.push(`  OUT OF PLACE: ${f.kind} in ${f.region} (${f.where}): ${f.problem}`);
    }
  }
  for (const f of value.findings) {
    lines.push(`OUT OF PLACE: ${f.tenantId === '' ? '' : `${f.tenantId} `}${f.kind} in ` +
      `${f.region} (${f.where}): ${f.problem}`);
  }
  const problems = value.findings.length +
    value.tenants.reduce((n, t) => n + t.findings.length, 0);
  lines.push('', problems === 0
    ? `every tenant's data, keys and backups are in its own region`
    : `${problems} thing(s) out of place`);
  return lines.join('\n');
}

/** Registers `residency report` under `program`. */
export function registerResidencyCommand(program: Command): void {
  const residency = program.command('residency').description('where tenants\' data lives');
  withCommonOptions(residency.command('report [tenant]'))
    .description("list where each tenant's rows, keys and backups are, read from the servers " +
      'and stores; exit 1 when anything is out of place')
    .action(async (tenant: string | undefined, options: CommonOptions) => {
      const found = await withTenancy(options, 'tenancy residency report',
        (tenancy) => tenancy.residency.report(tenant));
      report(found, options, renderResidencyReport);
      if (!found.ok) process.exitCode = exitCodes.failed;
    });
}

interface MoveCommandOptions extends CommonOptions {
  region?: string;
  isolation?: string;
}

const isolationChoices: readonly Isolation[] = ['database', 'schema', 'row'];

/** Exactly one of `--region` and `--isolation`, as the library's move target. */
function moveTarget(options: MoveCommandOptions): MoveTarget {
  if ((options.region === undefined) === (options.isolation === undefined)) {
    throw new CliError('USAGE', 'name exactly one of --region <region> and ' +
      '--isolation database|schema|row', exitCodes.usage);
  }
  if (options.region !== undefined) return { region: options.region };
  const isolation = isolationChoices.find((i) => i === options.isolation);
  if (isolation === undefined) {
    throw new CliError('USAGE', '--isolation takes database, schema or row', exitCodes.usage);
  }
  return { isolation };
}

/** Registers `move <id> --region <r> | --isolation <i>` under the `tenants` command. */
export function registerTenantsMoveCommand(tenants: Command): void {
  withCommonOptions(tenants.command('move <id>'))
    .description('move a tenant to another region or isolation: copy, verify, switch, then ' +
      'destroy the old copy (and, between regions, its keys)')
    .option('--region <region>', 'the region to move it to')
    .option('--isolation <isolation>', 'the isolation to move it to: database, schema or row')
    .action(async (id: string, options: MoveCommandOptions) => {
      const target = moveTarget(options);
      const done = await withTenancy(options, 'tenancy tenants move',
        (tenancy) => tenancy.tenants.move(id, target, {
          onStep: (step) => { if (options.json !== true) note(`move: ${step}`); },
        }));
      const where = (name: string): string => 'isolation' in target ? `${name} isolation` : name;
      report(done, options, (m: MoveResult) => m.moved
        ? `moved tenant ${m.tenantId} from ${where(m.from)} to ${where(m.to)} ` +
          `(${m.tables.reduce((n, t) => n + t.rows, 0)} rows verified)`
        : `tenant ${m.tenantId} already is in ${where(m.to)}`);
    });
}
