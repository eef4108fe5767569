// `tenancy tenants …`: create, list, get, suspend, resume and delete tenants.
import { Option, type Command } from 'commander';
import type { Tenant } from '../index.ts';
import { withCommonOptions, withTenancy, type CommonOptions } from './common.ts';
import { report, table, when } from './output.ts';
import { registerTenantsMoveCommand } from './residency-command.ts';

interface CreateOptions extends CommonOptions {
  isolation?: 'database' | 'schema' | 'row';
  region?: string;
  name?: string;
}

interface DeleteOptions extends CommonOptions {
  shred?: boolean;
}

interface ListOptions extends CommonOptions {
  status?: Tenant['status'];
  region?: string;
}

const statuses: readonly Tenant['status'][] = [
  'creating', 'active', 'suspended', 'deleting', 'deleted',
];

function describe(tenant: Tenant): string {
  return table([
    ['id', tenant.id],
    ['name', tenant.displayName],
    ['isolation', tenant.isolation],
    ['region', tenant.region],
    ['status', tenant.status],
    ['schema version', String(tenant.schemaVersion)],
    ['created', when(tenant.createdAt)],
    ['updated', when(tenant.updatedAt)],
  ]);
}

function listTable(tenants: readonly Tenant[]): string {
  if (tenants.length === 0) return 'no tenants';
  return table([
    ['ID', 'ISOLATION', 'REGION', 'STATUS', 'CREATED'],
    ...tenants.map((t) => [t.id, t.isolation, t.region, t.status, when(t.createdAt)]),
  ]);
}

/** Registers `tenants create|list|get|suspend|resume|delete` under `program`. */
export function registerTenantsCommand(program: Command): void {
  const tenants = program.command('tenants').description('create and manage tenants');

  withCommonOptions(tenants.command('create <id>'))
    .description('create a tenant and issue its first API key (shown once)')
    .addOption(new Option('--isolation <isolation>',
      'how its tables are laid out (default: the configured defaultIsolation)')
      .choices(['database', 'schema', 'row']))
    .option('--region <region>', 'region it lives in (default: the configured default)')
    .option('--name <name>', 'display name (default: the id)')
    .action(async (id: string, options: CreateOptions) => {
      const created = await withTenancy(options, 'tenancy tenants create', (tenancy) =>
        tenancy.tenants.create({
          id, isolation: options.isolation, region: options.region, displayName: options.name,
        }));
      const { tenant, apiKey } = created;
      const value = {
        id: tenant.id,
        displayName: tenant.displayName,
        isolation: tenant.isolation,
        region: tenant.region,
        status: tenant.status,
        apiKey: apiKey.secret,
        keyId: apiKey.keyId,
      };
      report(value, options, (v) => [
        `created tenant ${v.id} (${v.isolation} isolation, region ${v.region}, ${v.status})`,
        `api key ${v.keyId}: ${v.apiKey}`,
        'the key is shown only now: store it somewhere safe',
      ].join('\n'));
    });

  withCommonOptions(tenants.command('list'))
    .description('list tenants')
    .addOption(new Option('--status <status>', 'only tenants in this state').choices(statuses))
    .option('--region <region>', 'only tenants of this region')
    .action(async (options: ListOptions) => {
      const all = await withTenancy(options, 'tenancy tenants list', async (tenancy) => {
        const found: Tenant[] = [];
        // The catalog answers in pages; an operator listing expects every tenant.
        for (;;) {
          const page = await tenancy.tenants.list({
            status: options.status, region: options.region, after: found.at(-1)?.id, limit: 500,
          });
          found.push(...page);
          if (page.length < 500) return found;
        }
      });
      report({ tenants: all }, options, (v) => listTable(v.tenants));
    });

  withCommonOptions(tenants.command('get <id>'))
    .description('show one tenant')
    .action(async (id: string, options: CommonOptions) => {
      const tenant = await withTenancy(options, 'tenancy tenants get', (t) => t.tenants.get(id));
      report(tenant, options, describe);
    });

  const transitions = [
    ['suspend', 'suspended', 'refuse sessions of a tenant until it is resumed'],
    ['resume', 'resumed', 'let a suspended tenant work again'],
  ] as const;
  for (const [verb, done, help] of transitions) {
    withCommonOptions(tenants.command(`${verb} <id>`))
      .description(help)
      .action(async (id: string, options: CommonOptions) => {
        const tenant = await withTenancy(options, `tenancy tenants ${verb}`,
          (tenancy) => tenancy.tenants[verb](id));
        report(tenant, options, (t) => `${done} tenant ${t.id} (now ${t.status})`);
      });
  }

  withCommonOptions(tenants.command('delete <id>'))
    .description("drop a tenant's data and revoke its API keys; the id stays retired")
    .option('--shred', 'also destroy its encryption keys: no copy of its data (dump, backup) ' +
      'can be decrypted afterwards; prints the deletion record')
    .action(async (id: string, options: DeleteOptions) => {
      if (options.shred !== true) {
        const tenant = await withTenancy(options, 'tenancy tenants delete',
          (tenancy) => tenancy.tenants.delete(id));
        report(tenant, options, (t) => `deleted tenant ${t.id} (now ${t.status})`);
        return;
      }
      const record = await withTenancy(options, 'tenancy tenants delete --shred',
        (tenancy) => tenancy.tenants.delete(id, { shred: true }));
      report(record, options, (r) => [
        `shredded tenant ${r.tenantId} (region ${r.region}) at ${when(r.deletedAt)}`,
        `destroyed ${r.keyIds.length} key(s):`,
        ...r.keyIds.map((key) => `  ${key}`),
      ].join('\n'));
    });

  registerTenantsMoveCommand(tenants);
}
