// A restore is one step for readers: sessions reading while it runs see the old rows or the new
// ones, never part of each, in every isolation.
import { describe, expect, it } from 'vitest';
import { isolations, tenantName } from '../support/drivers.ts';
import { pgAvailable, useDeployment } from '../core/harness.ts';

describe.skipIf(!pgAvailable)('restore atomicity (pg)', () => {
  const d = useDeployment('pg');

  it.each(isolations)('readers never see a mix during a restore (%s)', async (isolation) => {
    const tenancy = d.tenancy;
    const id = tenantName(`atom-${isolation.slice(0, 3)}`);
    await tenancy.tenants.create({ id, isolation });
    await tenancy.withTenant(id, async (t) => {
      for (let n = 0; n < 400; n += 1) {
        await t.conversations.create({ id: `old-${n}`, title: 'old', messages: [
          { role: 'user', content: 'x'.repeat(200) }] });
      }
    });
    const { id: backup } = await tenancy.backups.create(id, { chunkBytes: 8 * 1024 });
    await tenancy.withTenant(id, async ({ session }) => {
      await session.query(`DELETE FROM ${session.table('conversations')} WHERE id LIKE 'old-1%'`);
    });
    const shape = (): Promise<string> => tenancy.withTenant(id, async ({ session }) => {
      const found = await session.query<{ c: number; m: number }>(
        `SELECT (SELECT count(*)::int FROM ${session.table('conversations')}) AS c,
                (SELECT count(*)::int FROM ${session.table('messages')}) AS m`);
      const row = found.rows[0];
      return `${row?.c}/${row?.m}`;
    });
    const before = await shape();
    const seen = new Set<string>();
    let done = false;
    const readers = (async () => {
      while (!done) seen.add(await shape());
    })();
    await tenancy.backups.restore(id, backup);
    done = true;
    await readers;
    seen.add(await shape());
    expect(before).not.toBe('400/400');
    expect([...seen].every((s) => s === before || s === '400/400')).toBe(true);
    expect(seen.has('400/400')).toBe(true);
  });
});
