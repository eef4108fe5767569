// Tenant lifecycle per driver and isolation: create, get, list, suspend, resume, delete.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinMigrations, type Tenancy } from '../../src/index.ts';
import { drivers, isolations } from '../support/drivers.ts';
import { expectCode, skipDriver, useDeployment, type AdminQuery } from './harness.ts';

const latest = builtinMigrations.length;

/** Adds three documents and a conversation of two messages, marked with the tenant's id. */
async function seed(tenancy: Tenancy, id: string): Promise<void> {
  await tenancy.withTenant(id, async (t) => {
    for (const n of [1, 2, 3]) await t.documents.create({ title: `${id} doc ${n}`, text: id });
    await t.conversations.create({
      title: `${id} chat`,
      messages: [{ role: 'user', content: `${id} asks` }, { role: 'assistant', content: id }],
    });
  });
}

/** What a tenant sees of its own data: document titles and message count. */
async function contents(tenancy: Tenancy, id: string):
  Promise<{ docs: string[]; messages: number }> {
  return tenancy.withTenant(id, async (t) => {
    const docs = (await t.documents.list()).items.map((d) => d.title).sort();
    const [chat] = (await t.conversations.list()).items;
    const full = chat === undefined ? undefined : await t.conversations.get(chat.id);
    return { docs, messages: full?.messages.length ?? 0 };
  });
}

/** Rows per tenant in every table of the shared row layout, read as the superuser. */
async function rowCounts(query: AdminQuery): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const table of ['conversations', 'messages', 'documents']) {
    const rows = await query<{ tenant_id: string; n: number }>(
      `select tenant_id, count(*)::int as n from tenancy_rows.${table} group by tenant_id`);
    for (const { tenant_id, n } of rows) counts.set(tenant_id, (counts.get(tenant_id) ?? 0) + n);
  }
  return counts;
}

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`tenant lifecycle on ${kind}`, () => {
    const d = useDeployment(kind);
    const databaseName = (id: string): string =>
      `${kind === 'pg' ? d.deployment.prefix : 'tenancy_'}${id}`;

    it.each(isolations)('creates an active %s tenant at the latest version', async (isolation) => {
      const id = `new-${isolation}`;
      const { tenant, apiKey } = await d.tenancy.tenants.create({ id, isolation });
      expect(tenant).toMatchObject({
        id, isolation, region: 'local', status: 'active', schemaVersion: latest, displayName: id,
      });
      expect(apiKey.tenantId).toBe(id);
      expect(await d.tenancy.apiKeys.authenticate(apiKey.secret)).toBe(id);
      expect(await d.tenancy.apiKeys.authenticate(`${apiKey.secret.slice(0, -1)}x`))
        .toBeUndefined();
      const got = await d.tenancy.tenants.get(id);
      expect(got).toEqual(tenant);
      await seed(d.tenancy, id);
      expect(await contents(d.tenancy, id)).toEqual({
        docs: [`${id} doc 1`, `${id} doc 2`, `${id} doc 3`], messages: 2,
      });
    });

    it('refuses a second tenant with a live id, and an unknown region', async () => {
      await expectCode(d.tenancy.tenants.create({ id: 'new-row', isolation: 'schema' }),
        'TENANT_EXISTS');
      expect((await d.tenancy.tenants.get('new-row')).isolation).toBe('row');
      await expectCode(d.tenancy.tenants.create({ id: 'nowhere', region: 'mars' }),
        'REGION_UNKNOWN');
      await expectCode(d.tenancy.tenants.get('nowhere'), 'TENANT_NOT_FOUND');
      await expectCode(d.tenancy.tenants.create({ id: 'Bad_Id' }), 'TENANT_ID_INVALID');
    });

    it('lists tenants filtered by status and region', async () => {
      await d.tenancy.tenants.suspend('new-schema');
      const ids = async (options: Parameters<Tenancy['tenants']['list']>[0]) =>
        (await d.tenancy.tenants.list(options)).map((t) => t.id);
      expect(await ids({})).toEqual(['new-database', 'new-row', 'new-schema']);
      expect(await ids({ status: 'suspended' })).toEqual(['new-schema']);
      expect(await ids({ status: 'active' })).toEqual(['new-database', 'new-row']);
      expect(await ids({ region: 'local' })).toEqual(['new-database', 'new-row', 'new-schema']);
      expect(await ids({ region: 'elsewhere' })).toEqual([]);
      expect(await ids({ limit: 1, after: 'new-database' })).toEqual(['new-row']);
      await d.tenancy.tenants.resume('new-schema');
    });

    it.each(isolations)('suspends and resumes a %s tenant', async (isolation) => {
      const id = `new-${isolation}`;
      const suspended = await d.tenancy.tenants.suspend(id);
      expect(suspended.status).toBe('suspended');
      expect((await d.tenancy.tenants.get(id)).status).toBe('suspended');
      const refused = await expectCode(d.tenancy.withTenant(id, async () => 'ran'),
        'TENANT_SUSPENDED');
      expect(refused.status).toBe(403);
      const resumed = await d.tenancy.tenants.resume(id);
      expect(resumed.status).toBe('active');
      expect(await d.tenancy.withTenant(id, async () => 'ran')).toBe('ran');
      expect((await contents(d.tenancy, id)).docs).toHaveLength(3);
    });

    it('deletes tenants of every isolation and nothing of anyone else', async () => {
      const keys = new Map<string, string>();
      for (const isolation of isolations) {
        for (const id of [`keep-${isolation}`, `gone-${isolation}`]) {
          const { apiKey } = await d.tenancy.tenants.create({ id, isolation });
          keys.set(id, apiKey.secret);
          await seed(d.tenancy, id);
        }
      }
      const others = [
        'new-row', 'new-schema', 'new-database', ...isolations.map((i) => `keep-${i}`),
      ];
      const before = new Map<string, unknown>();
      for (const id of others) before.set(id, await contents(d.tenancy, id));
      expect(await contents(d.tenancy, 'gone-row')).toEqual({
        docs: ['gone-row doc 1', 'gone-row doc 2', 'gone-row doc 3'], messages: 2,
      });
      const schemas = async (): Promise<string[]> => d.tenancy.withTenant('keep-row', async (t) =>
        (await t.session.query<{ nspname: string }>(
          `select nspname from pg_namespace where nspname like 'tenant\\_%' order by 1`)).rows
          .map((r) => r.nspname));
      expect(await schemas()).toContain('tenant_gone-schema');

      for (const isolation of isolations) {
        const deleted = await d.tenancy.tenants.delete(`gone-${isolation}`);
        expect(deleted.status).toBe('deleted');
      }

      for (const isolation of isolations) {
        const id = `gone-${isolation}`;
        expect((await d.tenancy.tenants.get(id)).status).toBe('deleted');
        const missing = await expectCode(d.tenancy.withTenant(id, async () => 'ran'),
          'TENANT_NOT_FOUND');
        expect(missing.status).toBe(404);
        await expectCode(d.tenancy.tenants.create({ id, isolation }), 'TENANT_EXISTS');
        await expectCode(d.tenancy.tenants.suspend(id), 'TENANT_NOT_FOUND');
        await expectCode(d.tenancy.apiKeys.issue(id), 'TENANT_NOT_FOUND');
        expect(await d.tenancy.apiKeys.authenticate(keys.get(id) as string)).toBeUndefined();
        expect(await d.tenancy.apiKeys.authenticate(keys.get(`keep-${isolation}`) as string))
          .toBe(`keep-${isolation}`);
      }
      for (const id of others) expect(await contents(d.tenancy, id)).toEqual(before.get(id));
      expect((await d.tenancy.tenants.list({ status: 'deleted' })).map((t) => t.id))
        .toEqual(['gone-database', 'gone-row', 'gone-schema']);

      // schema: the tenant's schema is gone, its neighbours' stay.
      const left = await schemas();
      expect(left).not.toContain('tenant_gone-schema');
      expect(left).toEqual(expect.arrayContaining(['tenant_keep-schema', 'tenant_new-schema']));

      // database: the tenant's database is gone, its neighbours' stay.
      if (kind === 'pglite') {
        const folder = (id: string) =>
          join(d.deployment.dataDir, 'regions', 'local', 'databases', databaseName(id));
        expect(await stat(folder('keep-database')).then(() => true, () => false)).toBe(true);
        expect(await stat(folder('gone-database')).then(() => true, () => false)).toBe(false);
      }

      // row: no row of the deleted tenant is left in any shared table; the others keep theirs.
      const counts = await d.admin(async (query) => {
        if (kind === 'pg') {
          const dbs = await query<{ datname: string }>(
            'select datname from pg_database where starts_with(datname, $1) order by 1',
            [d.deployment.prefix]);
          expect(dbs.map((r) => r.datname)).toEqual(
            ['keep-database', 'new-database'].map(databaseName));
        }
        const gone = await query<{ n: number }>(
          `select (select count(*) from tenancy_rows.conversations where tenant_id = $1)
                + (select count(*) from tenancy_rows.messages where tenant_id = $1)
                + (select count(*) from tenancy_rows.documents where tenant_id = $1) as n`,
          ['gone-row']);
        expect(Number(gone[0]?.n)).toBe(0);
        return rowCounts(query);
      });
      expect(Object.fromEntries(counts)).toEqual({ 'keep-row': 6, 'new-row': 6 });
    });

    it('serves the remaining tenants after the deletes', async () => {
      expect(await contents(d.tenancy, 'keep-database')).toEqual({
        docs: ['keep-database doc 1', 'keep-database doc 2', 'keep-database doc 3'], messages: 2,
      });
      await expectCode(d.tenancy.withTenant('gone-row', async () => 'ran'), 'TENANT_NOT_FOUND');
    });
  });
}
