// What a restore does to delete triggers of users' own tables: a superuser admin clears a
// `schema` or `database` tenant's old rows without firing them (nothing is left for cascades to
// do); the runtime role's path (VALUES, or arrays on PGlite) deletes as any session would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinMigrations, type Migration, type Tenancy } from '../../src/index.ts';
import { serverAvailable, tenantName } from '../support/drivers.ts';
import { loadStyles, openForStyle, type Opened } from './load-styles.ts';

const pgAvailable = await serverAvailable();

const watched: Migration = {
  version: 2,
  name: 'a table with a delete trigger',
  up: ({ table, secure }) => `
CREATE SEQUENCE ${table('deletes_seen')};
GRANT USAGE, SELECT ON SEQUENCE ${table('deletes_seen')} TO PUBLIC;
CREATE TABLE ${table('watched')} (
  tenant_id text NOT NULL DEFAULT tenancy.current_tenant(),
  id text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
${secure('watched')}
CREATE FUNCTION ${table('count_delete')}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM nextval('${table('deletes_seen').replaceAll("'", "''")}');
  RETURN OLD;
END $fn$;
CREATE TRIGGER count_delete AFTER DELETE ON ${table('watched')}
  FOR EACH ROW EXECUTE FUNCTION ${table('count_delete')}();`,
};

async function deletesSeen(tenancy: Tenancy, id: string): Promise<number> {
  return tenancy.withTenant(id, async ({ session }) => {
    const found = await session.query<{ n: string }>(
      `SELECT CASE WHEN is_called THEN last_value ELSE 0 END::text AS n
         FROM ${session.table('deletes_seen')}`);
    return Number(found.rows[0]?.n);
  });
}

for (const style of loadStyles) {
  describe.skipIf(style !== 'arrays' && !pgAvailable)(`delete triggers in a restore (${style})`,
    () => {
      let opened: Opened;
      beforeAll(async () => {
        opened = await openForStyle(style, { migrations: [...builtinMigrations, watched] });
      });
      afterAll(async () => { await opened?.close(); });

      it(`${style === 'copy' ? 'do not fire' : 'fire'} for the rows a schema restore replaces`,
        async () => {
          const tenancy = opened.tenancy;
          const id = tenantName('trig');
          await tenancy.tenants.create({ id, isolation: 'schema' });
          await tenancy.withTenant(id, async ({ session }) => {
            await session.query(`INSERT INTO ${session.table('watched')} (id)
              SELECT 'w' || n FROM generate_series(1, 3) n`);
          });
          const { id: backupId } = await tenancy.backups.create(id);
          await tenancy.backups.restore(id, backupId);
          expect(await deletesSeen(tenancy, id)).toBe(style === 'copy' ? 0 : 3);
          // The rows are back either way, and an ordinary delete still fires the trigger.
          await tenancy.withTenant(id, async ({ session }) => {
            const rows = await session.query(`DELETE FROM ${session.table('watched')}
              WHERE id = 'w1' RETURNING id`);
            expect(rows.rowCount).toBe(1);
          });
          expect(await deletesSeen(tenancy, id)).toBe(style === 'copy' ? 1 : 4);
        });
    });
}
