// Data residency on two regions on two servers: rows, keys and archives only in the tenant's
// region, the report built from what the servers hold, and the guard's refusals.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Isolation } from '../../src/config/schema.ts';
import type { Tenancy } from '../../src/index.ts';
import { tenantName } from '../support/drivers.ts';
import { failure, twoRegions, type TwoRegions } from './two-regions.ts';
import { fill } from './workload.ts';

const isolations: readonly Isolation[] = ['row', 'schema', 'database'];
const regions = ['eu', 'us'] as const;

describe('residency on two servers', () => {
  let env: TwoRegions;
  let tenancy: Tenancy;
  const made: { id: string; region: 'eu' | 'us'; isolation: Isolation }[] = [];

  beforeAll(async () => {
    env = await twoRegions();
    tenancy = await env.open();
    for (const region of regions) {
      for (const isolation of isolations) {
        const id = tenantName(`${region}-${isolation}`);
        await tenancy.tenants.create({ id, isolation, region });
        await fill(tenancy, id, `${region}${isolation}`);
        made.push({ id, region, isolation });
      }
    }
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  /** What the other server holds of a tenant, looked up by hand (not through the report). */
  async function traces(region: 'eu' | 'us', id: string): Promise<Record<string, number>> {
    const n = async (text: string, params: unknown[] = [id]): Promise<number> =>
      Number((await env.sql<{ n: string }>(region, text, params))[0]?.n ?? 0);
    return {
      schema: await n('SELECT count(*) AS n FROM pg_namespace WHERE nspname = $1',
        [`tenant_${id}`]),
      database: await n('SELECT count(*) AS n FROM pg_database WHERE datname = $1',
        [`${env.prefix}${id}`]),
      rows: await n(`SELECT (SELECT count(*) FROM tenancy_rows.conversations WHERE tenant_id = $1)
        + (SELECT count(*) FROM tenancy_rows.messages WHERE tenant_id = $1)
        + (SELECT count(*) FROM tenancy_rows.documents WHERE tenant_id = $1) AS n`),
      keyrings: await n('SELECT count(*) AS n FROM tenancy_keys.keyrings WHERE tenant_id = $1'),
      keys: await n('SELECT count(*) AS n FROM tenancy_keys.tenant_keys WHERE tenant_id = $1'),
      audit: await n('SELECT count(*) AS n FROM tenancy.audit_log WHERE tenant_id = $1'),
    };
  }

  it("keeps each tenant's rows, keys and audit records only on its region's server", async () => {
    for (const { id, region, isolation } of made) {
      const home = await traces(region, id);
      const away = await traces(region === 'eu' ? 'us' : 'eu', id);
      expect(away).toEqual({ schema: 0, database: 0, rows: 0, keyrings: 0, keys: 0, audit: 0 });
      expect(home.keyrings).toBe(1);
      expect(home.keys).toBe(2);
      expect(home.audit).toBeGreaterThan(0);
      if (isolation === 'row') expect(home.rows).toBe(8);
      if (isolation === 'schema') expect(home.schema).toBe(1);
      if (isolation === 'database') expect(home.database).toBe(1);
    }
  });

  it('reports a clean state after a mixed workload in both regions', async () => {
    const report = await tenancy.residency.report();
    expect(report.findings).toEqual([]);
    expect(report.tenants.flatMap((t) => t.findings)).toEqual([]);
    expect(report.ok).toBe(true);
    for (const { id, region, isolation } of made) {
      const entry = report.tenants.find((t) => t.tenantId === id);
      expect(entry?.region).toBe(region);
      const rows = entry?.places.filter((p) => p.kind === 'rows') ?? [];
      expect(rows.map((p) => [p.region, p.isolation])).toEqual(
        rows.length === 0 ? [] : rows.map(() => [region, isolation]));
      // 2 conversations, 4 messages, 2 documents, 1 embedding setting, 1 embedding.
      expect(rows.reduce((sum, p) => sum + p.count, 0)).toBe(10);
      expect(entry?.places.filter((p) => p.kind === 'keys').map((p) => p.region))
        .toEqual([region, region]);
      const catalog = entry?.places.filter((p) => p.kind === 'catalog') ?? [];
      expect(catalog.length).toBeGreaterThan(0);
      expect(catalog.every((p) => p.region === 'eu')).toBe(true);
    }
  });

  it('keeps only routing and access data in the catalog', async () => {
    const columns = await env.sql<{ table_name: string; column_name: string }>('eu',
      `SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = 'tenancy' AND table_name IN ('tenants', 'api_keys', 'tenant_limits',
          'region_moves') ORDER BY table_name, column_name`);
    const byTable: Record<string, string[]> = {};
    for (const c of columns) (byTable[c.table_name] ??= []).push(c.column_name);
    expect(byTable.tenants).toEqual(['created_at', 'display_name', 'id', 'isolation', 'region',
      'schema_version', 'status', 'updated_at']);
    expect(byTable.api_keys).toEqual(['created_at', 'key_id', 'revoked_at', 'secret_hash',
      'tenant_id']);
    expect(byTable.region_moves).toEqual(['ended_at', 'from_region', 'id', 'outcome',
      'prior_status', 'started_at', 'step', 'tenant_id', 'to_region']);
    // The us tenants' content never reaches the catalog's server in any form a query can see.
    const dump = await env.sql<{ text: string }>('eu',
      `SELECT string_agg(row_to_json(t)::text, ' ') AS text FROM (
         SELECT * FROM tenancy.tenants) t`);
    for (const { region, isolation } of made.filter((m) => m.region === 'us')) {
      expect(dump[0]?.text ?? '').not.toContain(`${region}${isolation} talk`);
    }
  });

  it('flags stray copies of rows, keys and archives planted in the wrong region', async () => {
    const usRow = made.find((m) => m.region === 'us' && m.isolation === 'row')?.id as string;
    const usSchema = made.find((m) => m.region === 'us' && m.isolation === 'schema')?.id as string;
    const euRow = made.find((m) => m.region === 'eu' && m.isolation === 'row')?.id as string;
    // A keyring row of a us tenant copied onto the eu server.
    const [ring] = await env.sql<{ keyring_id: Buffer; provider: string; root_key_id: string;
      wrapped_master: Buffer }>('us',
      'SELECT keyring_id, provider, root_key_id, wrapped_master FROM tenancy_keys.keyrings ' +
      'WHERE tenant_id = $1', [usRow]);
    await env.sql('eu', `INSERT INTO tenancy_keys.keyrings (tenant_id, keyring_id, provider,
      root_key_id, wrapped_master) VALUES ($1, $2, $3, $4, $5)`,
    [usRow, ring?.keyring_id, ring?.provider, ring?.root_key_id, ring?.wrapped_master]);
    // A schema of a us tenant made on the eu server, and a row of an eu tenant on the us server.
    await env.sql('eu', `CREATE SCHEMA "tenant_${usSchema}"`);
    await env.sql('us', `INSERT INTO tenancy_rows.conversations (tenant_id, id, title)
      VALUES ($1, 'stray', '\\x00')`, [euRow]);
    // An archive of an eu tenant in the us store.
    const store = join(env.dataDir, 'backups', 'us', 'tenants', euRow, 'backups', 'b-1');
    await mkdir(store, { recursive: true });
    await writeFile(join(store, 'manifest.json'), '{}');
    try {
      const report = await tenancy.residency.report();
      expect(report.ok).toBe(false);
      const findings = report.tenants.flatMap((t) => t.findings)
        .map((f) => `${f.tenantId} ${f.region} ${f.kind} ${f.where} ${f.problem}`).sort();
      expect(findings).toEqual([
        `${euRow} us backups ${join(env.dataDir, 'backups', 'us')} outside-region`,
        `${euRow} us rows tenancy_rows.conversations outside-region`,
        `${usRow} eu keys tenancy_keys.keyrings outside-region`,
        `${usSchema} eu rows schema tenant_${usSchema} outside-region`,
      ].sort());
      const one = await tenancy.residency.report(usRow);
      expect(one.tenants.map((t) => t.tenantId)).toEqual([usRow]);
      expect(one.tenants[0]?.findings.map((f) => f.problem)).toEqual(['outside-region']);
    } finally {
      await env.sql('eu', 'DELETE FROM tenancy_keys.keyrings WHERE tenant_id = $1', [usRow]);
      await env.sql('eu', `DROP SCHEMA "tenant_${usSchema}"`);
      await env.sql('us', 'DELETE FROM tenancy_rows.conversations WHERE tenant_id = $1', [euRow]);
      await env.sql('us', 'SELECT 1');
      const { rm } = await import('node:fs/promises');
      await rm(join(env.dataDir, 'backups', 'us', 'tenants', euRow), { recursive: true });
    }
    expect((await tenancy.residency.report()).ok).toBe(true);
  });

  it('refuses and audits a backup bound for another region, writing nothing', async () => {
    const id = made.find((m) => m.region === 'eu')?.id as string;
    const err = await failure(tenancy.residency.require({ tenantId: id, required: 'eu',
      target: 'us', what: 'backups' }));
    expect(err.code).toBe('RESIDENCY_VIOLATION');
    expect(err.message).toBe(`residency violation: tenant ${id} must stay in region eu; ` +
      'backups in region us refused');
    const page = await tenancy.audit.list({ tenantId: id, action: 'residency.refused' });
    expect(page.items.map((r) => [r.region, r.outcome, r.code])).toEqual([
      ['eu', 'denied', 'RESIDENCY_VIOLATION']]);
  });

  it("keeps audit records of a tenant looked up before it existed in the tenant's region",
    async () => {
      const id = tenantName('late');
      await expect(tenancy.withTenant(id, async () => 1)).rejects.toThrow();
      await tenancy.tenants.create({ id, isolation: 'row', region: 'us' });
      const records = await tenancy.audit.list({ tenantId: id });
      expect(records.items.map((r) => [r.action, r.region])).toEqual([['tenant.create', 'us']]);
      expect((await traces('eu', id)).audit).toBe(0);
    });
});

describe('residency guard on misconfigured shared resources', () => {
  let env: TwoRegions;

  beforeAll(async () => {
    env = await twoRegions();
    await (await env.open()).close();
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  it("refuses a tenant in a region configured onto another region's database", async () => {
    const base = env.config.regions as Record<string, { database: string }>;
    const tenancy = await env.open({}, { regions: { ...env.config.regions,
      ap: { database: base.eu?.database as string, tenantDatabasePrefix: `${env.prefix}ap_` } } });
    const id = tenantName('ap');
    const err = await failure(tenancy.tenants.create({ id, isolation: 'schema', region: 'ap' }));
    expect(err.code).toBe('RESIDENCY_VIOLATION');
    expect(err.message).toBe(`residency violation: tenant ${id} must stay in region ap; ` +
      'data in region eu refused');
    // Nothing was written: no catalog row, no schema, no keyring.
    expect(await env.sql('eu', 'SELECT id FROM tenancy.tenants WHERE id = $1', [id])).toEqual([]);
    expect(await env.sql('eu', 'SELECT 1 FROM pg_namespace WHERE nspname = $1',
      [`tenant_${id}`])).toEqual([]);
    expect(await env.sql('eu', 'SELECT 1 FROM tenancy_keys.keyrings WHERE tenant_id = $1',
      [id])).toEqual([]);
    // Regions ap and eu read the same audit table here, so the one record shows twice.
    const refused = await tenancy.audit.list({ tenantId: id, action: 'residency.refused' });
    expect(new Set(refused.items.map((r) => `${r.outcome} ${r.code} ${r.id.split(':')[1]}`)))
      .toEqual(new Set([`denied RESIDENCY_VIOLATION ${refused.items[0]?.id.split(':')[1]}`]));
    const report = await tenancy.residency.report();
    expect(report.findings.map((f) => [f.region, f.problem])).toEqual([
      ['ap', 'shared-resource']]);
    await tenancy.close();
  });

  it("refuses a tenant's session when its region wraps keys under another region's root key",
    async () => {
      const first = await env.open();
      const id = tenantName('us');
      await first.tenants.create({ id, isolation: 'row', region: 'us' });
      await first.close();
      const regionsIn = env.config.regions as Record<string, Record<string, unknown>>;
      const tenancy = await env.open({}, { regions: {
        eu: regionsIn.eu as never,
        us: { ...regionsIn.us, keys: regionsIn.eu?.keys } as never,
      } });
      const err = await failure(tenancy.withTenant(id, (t) => t.conversations.list()));
      expect(err.code).toBe('RESIDENCY_VIOLATION');
      expect(err.message).toBe(`residency violation: tenant ${id} must stay in region us; ` +
        'keys in region eu refused');
      const created = await failure(tenancy.tenants.create({ id: tenantName('us2'),
        isolation: 'row', region: 'us' }));
      expect(created.code).toBe('RESIDENCY_VIOLATION');
      expect((await failure(tenancy.keys.rotate(id))).code).toBe('RESIDENCY_VIOLATION');
      expect((await failure(tenancy.jobs.enqueue(id, 'reindex', { n: 1 }))).code)
        .toBe('RESIDENCY_VIOLATION');
      // Nothing was written on the us server: still one data key, and no job.
      expect(await env.sql('us', 'SELECT version FROM tenancy_keys.tenant_keys ' +
        "WHERE tenant_id = $1 AND purpose = 'data'", [id])).toEqual([{ version: 1 }]);
      expect(await env.sql('us', 'SELECT 1 FROM tenancy.jobs WHERE tenant_id = $1', [id]))
        .toEqual([]);
      await tenancy.close();
    });

  it("refuses a backup when its region's store is another region's folder", async () => {
    const first = await env.open();
    const id = tenantName('usb');
    await first.tenants.create({ id, isolation: 'schema', region: 'us' });
    await first.close();
    const regionsIn = env.config.regions as Record<string, Record<string, unknown>>;
    const shared = join(env.dataDir, 'one-store');
    const tenancy = await env.open({}, { regions: {
      eu: { ...regionsIn.eu, backups: { store: 'folder', path: shared } } as never,
      us: { ...regionsIn.us, backups: { store: 'folder', path: shared } } as never,
    } });
    const err = await failure(tenancy.backups.create(id));
    expect(err.code).toBe('RESIDENCY_VIOLATION');
    expect(err.message).toBe(`residency violation: tenant ${id} must stay in region us; ` +
      'backups in region eu refused');
    expect(existsSync(join(shared, 'tenants'))).toBe(false);
    await tenancy.close();
  });
});
