// Concurrency smoke: many tenants of mixed isolations in interleaved sessions never see each other.
import { beforeAll, describe, expect, it } from 'vitest';
import { drivers, isolations } from '../support/drivers.ts';
import { skipDriver, useDeployment } from './harness.ts';

const tenantCount = 20;
const callsPerTenant = 25;

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`concurrent sessions on ${kind}`, () => {
    const d = useDeployment(kind);
    const tenants = Array.from({ length: tenantCount }, (_, i) => ({
      id: `busy-${String(i).padStart(2, '0')}`,
      isolation: isolations[i % isolations.length] ?? 'row',
    }));

    beforeAll(async () => {
      for (const tenant of tenants) await d.tenancy.tenants.create(tenant);
    });

    it(`keeps ${tenantCount} tenants x ${callsPerTenant} interleaved sessions apart`, async () => {
      const calls: Array<Promise<{ id: string; marker: string; seen: string[] }>> = [];
      // Round-robin order puts every tenant's sessions side by side in flight.
      for (let n = 0; n < callsPerTenant; n += 1) {
        for (const { id } of tenants) {
          const marker = `${id}#${n}`;
          calls.push(d.tenancy.withTenant(id, async (t) => {
            await t.documents.create({ title: marker, text: id, metadata: { n } });
            const seen = (await t.documents.list({ limit: 1000 })).items.map((doc) => doc.title);
            return { id, marker, seen };
          }));
        }
      }
      const results = await Promise.all(calls);
      expect(results).toHaveLength(tenantCount * callsPerTenant);
      for (const { id, marker, seen } of results) {
        expect(seen).toContain(marker);
        const foreign = seen.filter((title) => !title.startsWith(`${id}#`));
        expect(foreign).toEqual([]);
      }

      for (const { id } of tenants) {
        const titles = await d.tenancy.withTenant(id, async (t) =>
          (await t.documents.list({ limit: 1000 })).items.map((doc) => doc.title));
        const expected = Array.from({ length: callsPerTenant }, (_, n) => `${id}#${n}`);
        expect(titles.sort()).toEqual(expected.sort());
      }
    });
  });
}
