// Tenant migrations: an appended migration reaches every tenant in every isolation on reopen.
import { beforeAll, describe, expect, it } from 'vitest';
import { builtinMigrations, Tenancy, type Migration } from '../../src/index.ts';
import { drivers, isolations } from '../support/drivers.ts';
import { expectCode, schemaOf, skipDriver, useDeployment } from './harness.ts';

const testColumn: Migration = {
  version: 2,
  name: 'test column',
  up: ({ table }) => `ALTER TABLE ${table('documents')} ADD COLUMN test_col text`,
};
const extended = [...builtinMigrations, testColumn];

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`tenant migrations on ${kind}`, () => {
    const d = useDeployment(kind);
    const live = isolations.flatMap((isolation) => [`mig-${isolation}`, `idle-${isolation}`]);

    /** The tenant's version in the catalog and whether its documents table has test_col. */
    async function state(id: string): Promise<{ version: number; column: boolean }> {
      const tenant = await d.tenancy.tenants.get(id);
      const column = await d.tenancy.withTenant(id, async (t) => (await t.session.query(
        `select 1 from information_schema.columns
          where table_schema = $1 and table_name = 'documents' and column_name = 'test_col'`,
        [schemaOf(tenant.isolation, id)])).rows.length === 1);
      return { version: tenant.schemaVersion, column };
    }

    beforeAll(async () => {
      for (const isolation of isolations) {
        for (const id of [`mig-${isolation}`, `idle-${isolation}`, `old-${isolation}`]) {
          await d.tenancy.tenants.create({ id, isolation });
          await d.tenancy.withTenant(id, (t) =>
            t.documents.create({ id: 'before', title: `${id} before`, text: '' }));
        }
        await d.tenancy.tenants.suspend(`idle-${isolation}`);
        await d.tenancy.tenants.delete(`old-${isolation}`);
      }
    });

    it('starts every tenant at version 1 without the column', async () => {
      for (const isolation of isolations) await d.tenancy.tenants.resume(`idle-${isolation}`);
      for (const id of live) expect(await state(id)).toEqual({ version: 1, column: false });
      for (const isolation of isolations) await d.tenancy.tenants.suspend(`idle-${isolation}`);
    });

    it('refuses a migration list with a gap at open', async () => {
      const gap: Migration = { ...testColumn, version: 3 };
      await expect(Tenancy.open(d.config, { migrations: [...builtinMigrations, gap] }))
        .rejects.toThrow('migration "test column" has version 3, expected 2');
      await expect(Tenancy.open(d.config, { migrations: [testColumn] }))
        .rejects.toThrow('has version 2, expected 1');
      // The refused opens left the running deployment alone.
      expect((await d.tenancy.tenants.get('mig-row')).schemaVersion).toBe(1);
    });

    it('brings every live tenant to version 2 when reopened with the longer list', async () => {
      const tenancy = await d.reopen({ migrations: extended });
      for (const isolation of isolations) await tenancy.tenants.resume(`idle-${isolation}`);
      for (const id of live) expect(await state(id)).toEqual({ version: 2, column: true });
      for (const id of live) {
        const kept = await tenancy.withTenant(id, async (t) => {
          await t.session.query(`update ${t.session.table('documents')} set test_col = $1`, [id]);
          const rows = (await t.session.query<{ title: Uint8Array; test_col: string }>(
            `select title, test_col from ${t.session.table('documents')}`)).rows;
          // The migrated table still holds the sealed title, and the store opens it.
          return {
            rows: rows.map((row) => ({ sealed: row.title[0] === 0xe7, test_col: row.test_col })),
            title: (await t.documents.get('before'))?.title,
          };
        });
        expect(kept).toEqual({ rows: [{ sealed: true, test_col: id }], title: `${id} before` });
      }
      // Deleted tenants have no storage left to migrate and keep their recorded version.
      for (const isolation of isolations) {
        expect((await tenancy.tenants.get(`old-${isolation}`)).schemaVersion).toBe(1);
      }
    });

    it('reports nothing to migrate afterwards', async () => {
      expect(await d.tenancy.migrate()).toEqual({ migrated: [], version: 2 });
    });

    it.each(isolations)('creates a new %s tenant at version 2', async (isolation) => {
      const id = `late-${isolation}`;
      const { tenant } = await d.tenancy.tenants.create({ id, isolation });
      expect(tenant.schemaVersion).toBe(2);
      expect(await state(id)).toEqual({ version: 2, column: true });
      expect(await d.tenancy.migrate()).toEqual({ migrated: [], version: 2 });
    });

    it('keeps version 2 across another reopen with the same list', async () => {
      const tenancy = await d.reopen({ migrations: extended });
      expect(await tenancy.migrate()).toEqual({ migrated: [], version: 2 });
      expect(await state('late-database')).toEqual({ version: 2, column: true });
      await expectCode(tenancy.withTenant('old-row', async () => 'ran'), 'TENANT_NOT_FOUND');
    });
  });
}
