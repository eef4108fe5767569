// A restore over a live tenant waits out the tenant's sessions in flight and holds new ones
// until it commits: no session sees part of the old rows and part of the restored ones, and no
// write of a session that began before the restore survives it half-replaced.
import { describe, expect, it } from 'vitest';
import { pgAvailable, useDeployment } from '../core/harness.ts';
import { isolations, tenantName } from '../support/drivers.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!pgAvailable)('a restore and a session in flight (pg)', () => {
  const d = useDeployment('pg');

  it.each(isolations)('the session runs wholly before the restore (%s)', async (isolation) => {
    const tenancy = d.tenancy;
    const id = tenantName(`rw-${isolation.slice(0, 3)}`);
    await tenancy.tenants.create({ id, isolation });
    await tenancy.withTenant(id, (t) => t.documents.create({ id: 'old', title: 'O', text: 'o' }));
    const { id: backup } = await tenancy.backups.create(id);
    await tenancy.withTenant(id, (t) => t.documents.delete('old'));

    const order: string[] = [];
    let restoreDone!: () => void;
    const restored = new Promise<void>((resolve) => { restoreDone = resolve; });
    const list = async (t: { documents: { list(): Promise<{ items: { id: string }[] }> } }) =>
      (await t.documents.list()).items.map((doc) => doc.id);
    const session = tenancy.withTenant(id, async (t) => {
      const first = await list(t);
      await Promise.race([restored, sleep(1500)]);
      await t.documents.create({ id: 'late', title: 'L', text: 'l' });
      const second = await list(t);
      order.push('session');
      return { first, second };
    });
    await sleep(100);
    await tenancy.backups.restore(id, backup);
    order.push('restore');
    restoreDone();
    const seen = await session;

    expect(order).toEqual(['session', 'restore']);
    expect(seen).toEqual({ first: [], second: ['late'] });
    expect(await tenancy.withTenant(id, list)).toEqual(['old']);
  });
});
