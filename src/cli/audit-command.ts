// `tenancy audit`: reads the audit log, newest first, with the same filters as GET /admin/audit.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { auditOutcomes, type AuditOutcome } from '../access/audit-log.ts';
import { withCommonOptions, withTenancy, type CommonOptions } from './common.ts';
import { note, report, table, when } from './output.ts';

interface AuditOptions extends CommonOptions {
  tenant?: string;
  action?: string;
  outcome?: AuditOutcome;
  actor?: string;
  since?: Date;
  until?: Date;
  limit: number;
  cursor?: string;
}

const units: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** An ISO date, or an age such as `30m`, `24h` or `7d` counted back from now. */
export function parseWhen(value: string): Date {
  const age = /^(\d{1,6})([mhd])$/.exec(value);
  if (age !== null) return new Date(Date.now() - Number(age[1]) * (units[age[2] as string] ?? 0));
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError(
      'give an ISO date (2025-01-31T12:00:00Z) or an age (30m, 24h, 7d)');
  }
  return date;
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 1000) {
    throw new InvalidArgumentError('a limit is a whole number from 1 to 1000');
  }
  return n;
}

/** Registers `audit` under `program`. */
export function registerAuditCommand(program: Command): void {
  withCommonOptions(program.command('audit'))
    .description('read the audit log, newest first')
    .option('--tenant <id>', 'only records about this tenant')
    .option('--action <action>', 'only this action (tenant.create) or family (tenant.*)')
    .addOption(new Option('--outcome <outcome>', 'only this outcome').choices(auditOutcomes))
    .option('--actor <actor>', 'only this actor: admin, cli, system, anonymous, api-key[:<key id>]')
    .option('--since <when>', 'only records at or after this date or age (24h, 7d)', parseWhen)
    .option('--until <when>', 'only records before this date or age', parseWhen)
    .option('--limit <n>', 'records to show', parseLimit, 100)
    .option('--cursor <cursor>', 'continue where an earlier listing stopped')
    .action(async (options: AuditOptions) => {
      const page = await withTenancy(options, 'tenancy audit', (tenancy) => tenancy.audit.list({
        tenantId: options.tenant, action: options.action, outcome: options.outcome,
        actor: options.actor, since: options.since, until: options.until, limit: options.limit,
        cursor: options.cursor,
      }));
      report({ events: page.items, next: page.next }, options, (v) => v.events.length === 0
        ? 'no audit records match'
        : table([
          ['AT', 'ACTOR', 'TENANT', 'ACTION', 'OUTCOME', 'RESOURCE', 'CODE', 'REQUEST'],
          ...v.events.map((e) => [
            when(e.at), e.actor.id === undefined ? e.actor.kind : `${e.actor.kind}:${e.actor.id}`,
            e.tenantId ?? '-', e.action, e.outcome, e.resource ?? '-', e.code ?? '-',
            e.requestId ?? '-',
          ]),
        ]));
      if (page.next !== null && options.json !== true) {
        note(`more records: add --cursor ${page.next}`);
      }
    });
}
