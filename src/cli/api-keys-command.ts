// `tenancy api-keys …`: issue, revoke and list a tenant's API keys (bearer tokens).
import type { Command } from 'commander';
import { CliError } from './cli-error.ts';
import { withCommonOptions, withTenancy, type CommonOptions } from './common.ts';
import { report, table, when } from './output.ts';

/** Registers `api-keys issue|revoke|list` under `program`. */
export function registerApiKeysCommand(program: Command): void {
  const keys = program.command('api-keys')
    .description("manage a tenant's API keys");

  withCommonOptions(keys.command('issue <tenant>'))
    .description('issue a new API key; its secret is shown once')
    .action(async (tenant: string, options: CommonOptions) => {
      const issued = await withTenancy(options, 'tenancy api-keys issue',
        (tenancy) => tenancy.apiKeys.issue(tenant));
      const value = {
        tenantId: issued.tenantId,
        keyId: issued.keyId,
        apiKey: issued.secret,
        createdAt: issued.createdAt,
      };
      report(value, options, (v) => [
        `issued key ${v.keyId} for tenant ${v.tenantId}: ${v.apiKey}`,
        'the key is shown only now: store it somewhere safe',
      ].join('\n'));
    });

  withCommonOptions(keys.command('revoke <tenant> <keyId>'))
    .description('revoke one API key of a tenant')
    .action(async (tenant: string, keyId: string, options: CommonOptions) => {
      const revoked = await withTenancy(options, 'tenancy api-keys revoke',
        (tenancy) => tenancy.apiKeys.revoke(tenant, keyId));
      if (!revoked) {
        throw new CliError('NOT_FOUND', `tenant ${tenant} has no live key ${keyId}`);
      }
      report({ tenantId: tenant, keyId, revoked }, options,
        (v) => `revoked key ${v.keyId} of tenant ${v.tenantId}`);
    });

  withCommonOptions(keys.command('list <tenant>'))
    .description("list a tenant's API keys (ids and dates, never secrets)")
    .action(async (tenant: string, options: CommonOptions) => {
      const found = await withTenancy(options, 'tenancy api-keys list',
        (tenancy) => tenancy.apiKeys.list(tenant));
      const value = {
        tenantId: tenant,
        keys: found.map(({ keyId, createdAt, revokedAt }) => ({ keyId, createdAt, revokedAt })),
      };
      report(value, options, (v) => v.keys.length === 0
        ? `tenant ${v.tenantId} has no keys`
        : table([
          ['KEY ID', 'CREATED', 'REVOKED'],
          ...v.keys.map((k) => [k.keyId, when(k.createdAt), when(k.revokedAt)]),
        ]));
    });
}
