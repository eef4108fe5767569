// A restore that fails on the server in the middle of its load (a CHECK the archive's rows
// break, a cancelled statement) or is aborted by its caller leaves the tenant's rows as they
// were and the pooled connection usable: no backend left inside COPY or in a transaction, no
// "client is already executing a query" warning, and the next restores and sessions work.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { builtinMigrations, isTenancyError, type Migration, type Tenancy } from '../../src/index.ts';
import { serverAvailable, tenantName } from '../support/drivers.ts';
import { openForStyle, type LoadStyle, type Opened } from './load-styles.ts';

const pgAvailable = await serverAvailable();

const checked: Migration = {
  version: 2,
  name: 'checked',
  up: ({ table, secure }) => `
CREATE TABLE ${table('checked')} (
  tenant_id text NOT NULL DEFAULT tenancy.current_tenant(),
  id text NOT NULL,
  n integer NOT NULL,
  pad text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
${secure('checked')}
CREATE FUNCTION ${table('checked_slow')}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.n = -1 THEN PERFORM pg_sleep(30); END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER checked_slow BEFORE INSERT ON ${table('checked')}
  FOR EACH ROW EXECUTE FUNCTION ${table('checked_slow')}();
ALTER TABLE ${table('checked')} DISABLE TRIGGER checked_slow;`,
};

const rows = 3_000;
const pad = 'p'.repeat(1_000);

/** `rows` rows of about 1 kB; the last one has n = `last`. */
async function seed(tenancy: Tenancy, id: string, last: number): Promise<void> {
  await tenancy.withTenant(id, async ({ session }) => {
    await session.query(`INSERT INTO ${session.table('checked')} (id, n, pad)
      SELECT 'r-' || lpad(i::text, 5, '0'), CASE WHEN i = $1 THEN $2 ELSE i END, $3
        FROM generate_series(1, $1) AS i ORDER BY i`, [rows, last, pad]);
  });
}

async function checkedPicture(tenancy: Tenancy, id: string): Promise<string> {
  return tenancy.withTenant(id, async ({ session }) => (await session.query<{ s: string }>(
    `SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY t.id)) AS s
       FROM ${session.table('checked')} t`)).rows[0]?.s ?? '');
}

for (const style of ['copy', 'values'] as const satisfies readonly LoadStyle[]) {
  describe.skipIf(!pgAvailable)(`a restore failing mid-load (${style})`, () => {
    let opened: Opened;
    const warnings: string[] = [];
    const onWarning = (w: Error): void => { warnings.push(w.message); };
    beforeAll(async () => {
      opened = await openForStyle(style, { migrations: [...builtinMigrations, checked] });
      process.on('warning', onWarning);
    });
    afterAll(async () => {
      process.off('warning', onWarning);
      await opened?.close();
    });
    afterEach(async () => {
      await opened.sql?.query(
        'ALTER TABLE IF EXISTS tenancy_rows.checked DROP CONSTRAINT IF EXISTS small');
    });

    /** Backends of this database still inside a COPY or a transaction, but for our own. */
    async function leftovers(): Promise<string[]> {
      // Give a just-released connection's ROLLBACK a moment to land.
      await new Promise((r) => setTimeout(r, 200));
      const found = await opened.sql?.query<{ s: string }>(
        `SELECT state || ': ' || left(query, 40) AS s FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()
            AND state <> 'idle'`);
      return (found?.rows ?? []).map((r) => r.s);
    }

    /** Another tenant restores and its sessions run: the pool hands out working connections. */
    async function poolStillWorks(tenancy: Tenancy, iso: 'row' | 'schema'): Promise<void> {
      const other = tenantName(`ok-${iso.slice(0, 3)}`);
      await tenancy.tenants.create({ id: other, isolation: iso });
      await seed(tenancy, other, rows);
      const before = await checkedPicture(tenancy, other);
      const { id: backupId } = await tenancy.backups.create(other);
      for (let n = 0; n < 5; n += 1) {
        await tenancy.backups.restore(other, backupId);
        expect(await checkedPicture(tenancy, other)).toBe(before);
      }
      await tenancy.withTenant(other, (t) => t.documents.create({ id: 'after', title: 'a',
        text: 'b' }));
      expect(warnings.filter((w) => w.includes('already executing'))).toEqual([]);
    }

    it.each(['row', 'schema'] as const)('a CHECK broken by the last row of the archive leaves ' +
      'the old rows and a working pool (%s)', async (iso) => {
      const { tenancy, sql } = opened;
      const id = tenantName(`chk-${iso.slice(0, 3)}`);
      await tenancy.tenants.create({ id, isolation: iso });
      await seed(tenancy, id, 99_999);
      const { id: backupId } = await tenancy.backups.create(id, { chunkBytes: 64 * 1024 });
      const table = iso === 'row' ? 'tenancy_rows.checked'
        : `"tenant_${id}".checked`;
      await sql?.query(`ALTER TABLE ${table} ADD CONSTRAINT small CHECK (n < 99999) NOT VALID`);
      await tenancy.withTenant(id, ({ session }) => session.query(
        `UPDATE ${session.table('checked')} SET pad = 'changed' WHERE n < 10`));
      const before = await checkedPicture(tenancy, id);
      const failure = await tenancy.backups.restore(id, backupId).then(
        () => undefined, (err: unknown) => err);
      expect(failure).toBeInstanceOf(Error);
      expect(await checkedPicture(tenancy, id)).toBe(before);
      expect(await leftovers()).toEqual([]);
      await sql?.query(`ALTER TABLE ${table} DROP CONSTRAINT small`);
      await poolStillWorks(tenancy, iso);
      expect(await leftovers()).toEqual([]);
    });

    it.each(['row', 'schema'] as const)('a load cancelled on the server (as a statement_timeout ' +
      'would) leaves the old rows and a working pool (%s)', async (iso) => {
      const { tenancy, sql } = opened;
      const id = tenantName(`cxl-${iso.slice(0, 3)}`);
      await tenancy.tenants.create({ id, isolation: iso });
      await seed(tenancy, id, -1);
      const { id: backupId } = await tenancy.backups.create(id, { chunkBytes: 64 * 1024 });
      const table = iso === 'row' ? 'tenancy_rows.checked' : `"tenant_${id}".checked`;
      await sql?.query(`ALTER TABLE ${table} ENABLE TRIGGER checked_slow`);
      await tenancy.withTenant(id, ({ session }) => session.query(
        `DELETE FROM ${session.table('checked')} WHERE n < 10`));
      const before = await checkedPicture(tenancy, id);
      const restoring = tenancy.backups.restore(id, backupId).then(
        () => undefined, (err: unknown) => err);
      // Cancel the sleeping load statement once it is in the trigger.
      let cancelled = false;
      for (let n = 0; n < 300 && !cancelled; n += 1) {
        const found = await sql?.query<{ c: boolean }>(
          `SELECT pg_cancel_backend(pid) AS c FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event = 'PgSleep'
              AND pid <> pg_backend_pid()`);
        cancelled = (found?.rows.length ?? 0) > 0;
        if (!cancelled) await new Promise((r) => setTimeout(r, 100));
      }
      expect(cancelled).toBe(true);
      const failure = await restoring;
      await sql?.query(`ALTER TABLE ${table} DISABLE TRIGGER checked_slow`);
      expect(failure).toBeInstanceOf(Error);
      expect(await checkedPicture(tenancy, id)).toBe(before);
      expect(await leftovers()).toEqual([]);
      await poolStillWorks(tenancy, iso);
    }, 90_000);

    it.each(['row', 'schema'] as const)('an AbortSignal fired mid-restore leaves the old rows ' +
      'and a working pool (%s)', async (iso) => {
      const { tenancy } = opened;
      const id = tenantName(`abt-${iso.slice(0, 3)}`);
      await tenancy.tenants.create({ id, isolation: iso });
      await seed(tenancy, id, rows);
      const { id: backupId } = await tenancy.backups.create(id, { chunkBytes: 16 * 1024 });
      await tenancy.withTenant(id, ({ session }) => session.query(
        `UPDATE ${session.table('checked')} SET pad = 'changed' WHERE n < 10`));
      const before = await checkedPicture(tenancy, id);
      const controller = new AbortController();
      let progress = 0;
      const failure = await tenancy.backups.restore(id, backupId, {
        signal: controller.signal,
        onProgress: (p) => {
          progress += 1;
          if (p.rows > rows / 3) controller.abort();
        },
      }).then(() => undefined, (err: unknown) => err);
      expect(progress).toBeGreaterThan(1);
      expect(failure).toBeInstanceOf(Error);
      expect(isTenancyError(failure, 'INTERNAL')).toBe(false);
      expect(await checkedPicture(tenancy, id)).toBe(before);
      expect(await leftovers()).toEqual([]);
      await poolStillWorks(tenancy, iso);
    });

    it('a restore the server fails answers DATABASE_ERROR, not the raw driver error that ' +
      'quotes the failing row', async () => {
      const { tenancy, sql } = opened;
      const id = tenantName('code-chk');
      await tenancy.tenants.create({ id, isolation: 'schema' });
      await seed(tenancy, id, 99_999);
      const { id: backupId } = await tenancy.backups.create(id);
      await sql?.query(
        `ALTER TABLE "tenant_${id}".checked ADD CONSTRAINT small CHECK (n < 99999) NOT VALID`);
      const failure = await tenancy.backups.restore(id, backupId).then(
        () => undefined, (err: unknown) => err);
      // Today: a pg DatabaseError (code 23514) whose detail / where carry the row's values.
      expect(isTenancyError(failure, 'DATABASE_ERROR')).toBe(true);
    });
  });
}
