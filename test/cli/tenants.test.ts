// `tenancy tenants|api-keys|migrate` run as the real bin on one embedded data folder.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinMigrations, type Isolation } from '../../src/index.ts';
import { expectFailure, inspect, runCli, runJson } from './cli.ts';

interface CreatedJson {
  id: string;
  displayName: string;
  isolation: Isolation;
  region: string;
  status: string;
  apiKey: string;
  keyId: string;
}

interface TenantJson {
  id: string;
  status: string;
  isolation: Isolation;
  region: string;
}

interface KeyJson {
  keyId: string;
  createdAt: string;
  revokedAt: string | null;
}

const latest = builtinMigrations.at(-1)?.version;

describe('tenancy tenants, api-keys and migrate on the embedded default', () => {
  let dataDir: string;
  let data: string[];
  const created = new Map<Isolation, CreatedJson>();

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tenancy-cli-'));
    data = ['--data', dataDir];
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates a tenant without --isolation in the configured defaultIsolation', async () => {
    const own = await mkdtemp(join(tmpdir(), 'tenancy-cli-default-'));
    try {
      const config = join(own, 'config.json');
      await writeFile(config, JSON.stringify({ dataDir: own, defaultIsolation: 'schema' }));
      const out = await runJson<CreatedJson>(['tenants', 'create', 'plain-co', '--config',
        config]);
      expect(out).toMatchObject({ id: 'plain-co', isolation: 'schema', status: 'active' });
      const fallback = await runJson<CreatedJson>(['tenants', 'create', 'plainer-co',
        '--data', own]);
      expect(fallback.isolation).toBe('row');
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });

  it('creates a tenant in each isolation and prints its first API key once', async () => {
    for (const isolation of ['row', 'schema', 'database'] as const) {
      const out = await runJson<CreatedJson>([
        'tenants', 'create', `${isolation}-co`, '--isolation', isolation,
        '--name', `The ${isolation} company`, ...data,
      ]);
      expect(out).toMatchObject({
        id: `${isolation}-co`, displayName: `The ${isolation} company`, isolation,
        region: 'local', status: 'active',
      });
      expect(out.apiKey).toMatch(new RegExp(`^tny_${out.keyId}_[A-Za-z0-9_-]{43}$`));
      created.set(isolation, out);
    }
    // The printed secrets are the real keys: each authenticates as its own tenant.
    const owners = await inspect({ dataDir }, (tenancy) => Promise.all(
      [...created.values()].map((c) => tenancy.apiKeys.authenticate(c.apiKey)),
    ));
    expect(owners).toEqual(['row-co', 'schema-co', 'database-co']);
  });

  it('prints readable text without --json, the key included', async () => {
    const result = await runCli(['tenants', 'create', 'texty', '--isolation', 'row', ...data]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^created tenant texty \(row isolation, region local, active\)/);
    expect(result.stdout).toMatch(/api key [a-z0-9]{16}: tny_[a-z0-9]{16}_\S{43}\n/);
    const listed = await runCli(['tenants', 'list', ...data]);
    expect(listed.stdout.split('\n')[0]).toMatch(/^ID\s+ISOLATION\s+REGION\s+STATUS\s+CREATED$/);
    expect(listed.stdout).toMatch(/^texty\s+row\s+local\s+active\s/m);
  });

  it('lists tenants, filtered by status and region', async () => {
    const all = await runJson<{ tenants: TenantJson[] }>(['tenants', 'list', ...data]);
    expect(all.tenants.map((t) => t.id)).toEqual(['database-co', 'row-co', 'schema-co', 'texty']);
    expect(all.tenants.find((t) => t.id === 'schema-co')?.isolation).toBe('schema');
    const none = await runJson<{ tenants: TenantJson[] }>(
      ['tenants', 'list', '--status', 'suspended', ...data]);
    expect(none.tenants).toEqual([]);
    const local = await runJson<{ tenants: TenantJson[] }>(
      ['tenants', 'list', '--region', 'local', ...data]);
    expect(local.tenants).toHaveLength(4);
  });

  it('suspends, resumes and deletes a tenant, and reports each state', async () => {
    const suspended = await runJson<TenantJson>(['tenants', 'suspend', 'texty', ...data]);
    expect(suspended.status).toBe('suspended');
    const listed = await runJson<{ tenants: TenantJson[] }>(
      ['tenants', 'list', '--status', 'suspended', ...data]);
    expect(listed.tenants.map((t) => t.id)).toEqual(['texty']);
    expect((await runJson<TenantJson>(['tenants', 'resume', 'texty', ...data])).status)
      .toBe('active');
    expect((await runJson<TenantJson>(['tenants', 'delete', 'texty', ...data])).status)
      .toBe('deleted');
    expect((await runJson<TenantJson>(['tenants', 'get', 'texty', ...data])).status)
      .toBe('deleted');
    expectFailure(await runCli(['tenants', 'suspend', 'texty', ...data]), 'TENANT_NOT_FOUND');
    expectFailure(await runCli(['tenants', 'get', 'never-was', ...data]), 'TENANT_NOT_FOUND');
  });

  it('issues, lists and revokes API keys; secrets appear only when issued', async () => {
    const first = created.get('row') as CreatedJson;
    const issued = await runJson<{ tenantId: string; keyId: string; apiKey: string }>(
      ['api-keys', 'issue', 'row-co', ...data]);
    expect(issued.tenantId).toBe('row-co');
    expect(issued.apiKey).toMatch(new RegExp(`^tny_${issued.keyId}_`));

    const listed = await runCli(['api-keys', 'list', 'row-co', '--json', ...data]);
    const keys = (JSON.parse(listed.stdout) as { keys: KeyJson[] }).keys;
    expect(keys.map((k) => [k.keyId, k.revokedAt])).toEqual([
      [first.keyId, null], [issued.keyId, null],
    ]);
    expect(listed.stdout).not.toContain(issued.apiKey.slice(-43));

    const revoked = await runJson(['api-keys', 'revoke', 'row-co', first.keyId, ...data]);
    expect(revoked).toEqual({ tenantId: 'row-co', keyId: first.keyId, revoked: true });
    const after = await runJson<{ keys: KeyJson[] }>(['api-keys', 'list', 'row-co', ...data]);
    expect(after.keys.find((k) => k.keyId === first.keyId)?.revokedAt).toEqual(expect.any(String));
    expect(after.keys.find((k) => k.keyId === issued.keyId)?.revokedAt).toBeNull();
    // A key of another tenant cannot be revoked through this one.
    const schemaKey = (created.get('schema') as CreatedJson).keyId;
    expectFailure(await runCli(['api-keys', 'revoke', 'row-co', schemaKey, ...data]),
      'NOT_FOUND');
    expectFailure(await runCli(['api-keys', 'revoke', 'row-co', first.keyId, ...data]),
      'NOT_FOUND');

    const owners = await inspect({ dataDir }, async (tenancy) => [
      await tenancy.apiKeys.authenticate(first.apiKey),
      await tenancy.apiKeys.authenticate(issued.apiKey),
    ]);
    expect(owners).toEqual([undefined, 'row-co']);
  });

  it('migrate names the tenants it brought up to date, and then none', async () => {
    // Set one tenant's recorded version back, as if it predated the latest migration.
    await inspect({ dataDir }, async (tenancy) => {
      const tenant = await tenancy.tenants.get('schema-co');
      await tenancy.regionOf(tenant).driver.shared.transaction('admin', (tx) =>
        tx.query("UPDATE tenancy.tenants SET schema_version = 0 WHERE id = 'schema-co'"));
    });
    expect(await runJson(['migrate', ...data]))
      .toEqual({ migrated: ['schema-co'], version: latest });
    expect(await runJson(['migrate', ...data])).toEqual({ migrated: [], version: latest });
    const text = await runCli(['migrate', ...data]);
    expect(text.stdout).toBe(`every tenant is at version ${latest}\n`);
  });

  it('refuses an invalid tenant id with TENANT_ID_INVALID', async () => {
    const result = await runCli(['tenants', 'create', 'Bad_Id', '--isolation', 'row', ...data]);
    expectFailure(result, 'TENANT_ID_INVALID');
  });

  it('refuses a tenant id that is taken with TENANT_EXISTS', async () => {
    const result = await runCli(['tenants', 'create', 'row-co', '--isolation', 'row', ...data]);
    expectFailure(result, 'TENANT_EXISTS');
  });

  it('names the field of an invalid config file, from --config and TENANCY_CONFIG', async () => {
    const file = join(dataDir, 'bad-config.json');
    await writeFile(file, JSON.stringify({ regions: { eu: { database: 'nope' } } }));
    const flag = expectFailure(await runCli(['tenants', 'list', '--config', file]),
      'CONFIG_INVALID');
    expect(flag).toContain('regions.eu.database');
    const env = expectFailure(await runCli(['tenants', 'list'], { TENANCY_CONFIG: file }),
      'CONFIG_INVALID');
    expect(env).toContain('regions.eu.database');
  });

  it('exits 2 on wrong usage', async () => {
    const missing = await runCli(['tenants', 'create', ...data]);
    expectFailure(missing, 'USAGE', 2);
    expect(missing.stderr).toContain("missing required argument 'id'");
    expectFailure(await runCli(['tenants', 'create', 'acme-co', '--isolation', 'cell', ...data]),
      'USAGE', 2);
    expectFailure(await runCli(['tenants', 'frobnicate', ...data]), 'USAGE', 2);
    expectFailure(await runCli(['serve', '--port', 'eighty', ...data]), 'USAGE', 2);
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: tenancy');
  });
});
