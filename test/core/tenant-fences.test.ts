// Moves and deletes fence a tenant's layout off and wait out its sessions in flight, on PGlite
// and on the Postgres server: no write of a session that began before is lost or left behind,
// no session begins after, a session that will not end fails the fence instead of hanging it,
// and no tenant can see another's fences.
import { describe, expect, it } from 'vitest';
import type { Tenancy } from '../../src/index.ts';
import { tenantSchema } from '../../src/storage/placements/schema-layout.ts';
import { fenceTenant } from '../../src/storage/tenant-fence.ts';
import { parseTenantId } from '../../src/tenant-id.ts';
import { drivers, tenantName } from '../support/drivers.ts';
import { expectCode, skipDriver, useDeployment } from './harness.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A session that reads now, then writes document `late` once `go` settles or after 2 s. */
function inFlight(tenancy: Tenancy, id: string, go: Promise<void>):
  Promise<'committed' | 'refused'> {
  return tenancy.withTenant(id, async (t) => {
    await t.documents.list();
    await Promise.race([go, sleep(2000)]);
    await t.documents.create({ id: 'late', title: 'L', text: 'written while fenced' });
  }).then(() => 'committed' as const, () => 'refused' as const);
}

/** The tenant's rows in the shared row tables and its schemas, counted as the admin. */
async function leftovers(tenancy: Tenancy, id: string): Promise<number> {
  const region = tenancy.regionOf(await tenancy.tenants.get(id));
  return region.driver.shared.transaction('admin', async (tx) => {
    const result = await tx.query<{ n: number }>(
      `SELECT (SELECT count(*)::int FROM tenancy_rows.documents WHERE tenant_id = $1)
            + (SELECT count(*)::int FROM pg_namespace WHERE nspname = $2) AS n`,
      [id, tenantSchema(id)]);
    return result.rows[0]?.n ?? -1;
  });
}

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`tenant fences (${kind})`, () => {
    const d = useDeployment(kind);

    it('waits out a session in flight when a row tenant is deleted, leaving no row', async () => {
      const id = tenantName('fd');
      await d.tenancy.tenants.create({ id, isolation: 'row' });
      let done!: () => void;
      const deleted = new Promise<void>((resolve) => { done = resolve; });
      const session = inFlight(d.tenancy, id, deleted);
      await sleep(100);
      await d.tenancy.tenants.delete(id);
      done();
      // The delete waited for the session (it wrote after 2 s), then dropped what it wrote.
      expect(await session).toBe('committed');
      expect((await d.tenancy.tenants.get(id)).status).toBe('deleted');
      expect(await leftovers(d.tenancy, id)).toBe(0);
    });

    it('keeps the write of a session in flight across an isolation move', async () => {
      const id = tenantName('fi');
      await d.tenancy.tenants.create({ id, isolation: 'row' });
      let done!: () => void;
      const moved = new Promise<void>((resolve) => { done = resolve; });
      const session = inFlight(d.tenancy, id, moved);
      await sleep(100);
      const result = await d.tenancy.tenants.move(id, { isolation: 'schema' },
        { settleMillis: 0 });
      done();
      expect(result.moved).toBe(true);
      expect(await session).toBe('committed');
      const ids = await d.tenancy.withTenant(id, async (t) =>
        (await t.documents.list()).items.map((doc) => doc.id));
      expect(ids).toEqual(['late']);
      const region = d.tenancy.regionOf(await d.tenancy.tenants.get(id));
      const rows = await region.driver.shared.transaction('admin', async (tx) =>
        (await tx.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM tenancy_rows.documents WHERE tenant_id = $1', [id]))
          .rows[0]?.n);
      expect(rows).toBe(0);
    });

    it('shows a tenant session no fence of another tenant, and lets it write none', async () => {
      const gone = tenantName('fg');
      const other = tenantName('fo');
      await d.tenancy.tenants.create({ id: gone, isolation: 'schema' });
      await d.tenancy.tenants.create({ id: other, isolation: 'schema' });
      await d.tenancy.tenants.delete(gone);
      const seen = await d.tenancy.withTenant(other, async (t) =>
        (await t.session.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM tenancy.tenant_fences')).rows[0]?.n);
      expect(seen).toBe(0);
      await expectCode(d.tenancy.withTenant(other, (t) => t.session.query(
        "DELETE FROM tenancy.tenant_fences WHERE reason = 'deleted'")), 'DATABASE_ERROR');
      // The fence is still there: the deleted tenant's layout stays shut.
      const region = d.tenancy.regionOf(await d.tenancy.tenants.get(gone));
      const fences = await region.driver.shared.transaction('admin', async (tx) =>
        (await tx.query<{ reason: string }>(
          'SELECT reason FROM tenancy.tenant_fences WHERE tenant = $1', [gone])).rows);
      expect(fences).toEqual([{ reason: 'deleted' }]);
    });

    it.skipIf(kind === 'pglite')(
      'fails a fence whose sessions do not end, and lifts it again', async () => {
        const id = tenantName('fb');
        await d.tenancy.tenants.create({ id, isolation: 'row' });
        const tenant = await d.tenancy.tenants.get(id);
        const storage = d.tenancy.regionOf(tenant).placement('row').locate(parseTenantId(id));
        let release!: () => void;
        const held = new Promise<void>((resolve) => { release = resolve; });
        const session = d.tenancy.withTenant(id, async (t) => {
          await t.documents.list();
          await held;
        });
        await sleep(100);
        const error = await expectCode(fenceTenant(storage, parseTenantId(id), 'moving', 300),
          'TENANT_NOT_ACTIVE');
        expect(error.message).toContain('busy');
        release();
        await session;
        const count = await d.tenancy.withTenant(id, async (t) => {
          await t.documents.create({ id: 'after', title: 'A', text: 'a' });
          return (await t.documents.list()).items.length;
        });
        expect(count).toBe(1);
      });
  });
}
