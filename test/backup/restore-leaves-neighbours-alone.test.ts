// In row isolation every tenant shares the tables, and the COPY load runs as an admin that
// row-level security does not confine. A restore or clone of one tenant must leave every other
// tenant's rows byte for byte as they were, even while those tenants write.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tenancy } from '../../src/index.ts';
import { serverAvailable, tenantName } from '../support/drivers.ts';
import { picture, seedTenant } from './support.ts';
import { loadStyles, openForStyle, type Opened } from './load-styles.ts';

const pgAvailable = await serverAvailable();

/** The tenant's rows without those its live writer added (ids starting `live-`). */
async function settled(tenancy: Tenancy, id: string): Promise<Record<string, string[]>> {
  const all = await picture(tenancy, id);
  return Object.fromEntries(Object.entries(all).map(([table, rows]) =>
    [table, rows.filter((r) => !r.includes(',live-'))]));
}

for (const style of loadStyles) {
  describe.skipIf(style !== 'arrays' && !pgAvailable)(`row-isolation neighbours (${style})`,
    () => {
      let opened: Opened;
      beforeAll(async () => { opened = await openForStyle(style); });
      afterAll(async () => { await opened?.close(); });

      it('a restore and a clone of one tenant leave its neighbours byte for byte, while they ' +
        'write', async () => {
        const { tenancy } = opened;
        const [a, b, c] = [tenantName('ra'), tenantName('rb'), tenantName('rc')];
        for (const id of [a, b, c]) {
          await tenancy.tenants.create({ id, isolation: 'row' });
          // Same object ids in every tenant: only tenant_id tells their rows apart.
          await seedTenant(tenancy, id, 30);
        }
        const { id: backupId } = await tenancy.backups.create(a, { chunkBytes: 4_000 });
        await tenancy.withTenant(a, (t) => t.documents.create({ id: 'after', title: 't',
          text: 'x' }));
        const pictures = { b: await picture(tenancy, b), c: await picture(tenancy, c) };
        const rowsB = pictures.b.documents?.length ?? 0;

        let writing = true;
        let written = 0;
        const writer = (async () => {
          while (writing) {
            await tenancy.withTenant(b, (t) => t.documents.create({ id: `live-${written}`,
              title: 'live', text: 'live' }));
            written += 1;
            // PGlite answers in process: yield to timers so the restore gets its turn.
            await new Promise((r) => setTimeout(r, 5));
          }
        })();
        try {
          await tenancy.backups.restore(a, backupId);
          const d = tenantName('rd');
          const cloned = await tenancy.backups.clone(a, backupId, { to: d, isolation: 'row' });
          expect(cloned.rows).toBeGreaterThan(0);
          await tenancy.backups.restore(a, backupId);
        } finally {
          writing = false;
          await writer;
        }
        expect(written).toBeGreaterThan(0);
        expect(await settled(tenancy, b)).toEqual(pictures.b);
        expect(await picture(tenancy, c)).toEqual(pictures.c);
        expect((await picture(tenancy, b)).documents?.length).toBe(rowsB + written);
        // And the restored tenant has its own rows back, not its neighbours'.
        const restored = await picture(tenancy, a);
        expect(restored.documents?.some((r) => r.includes(',after,'))).toBe(false);
        for (const rows of Object.values(restored)) {
          for (const row of rows) expect(row.startsWith(`(${a},`)).toBe(true);
        }
      });
    });
}
