// Leak kit through PgBouncer in transaction pooling mode (no reset query between clients): the
// interleaving and no-context cases for `row` and `schema` isolation, and proof that neither a
// prepared statement nor a search_path rides a server connection from one tenant to the next.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Isolation } from '../../src/config/schema.ts';
import { isTenancyError, type TenantScope } from '../../src/index.ts';
import { interleavingCase } from './kit/interleaving.ts';
import { noContextCases } from './kit/no-context.ts';
import { poolerTarget, skipTarget, useLeakDeployment } from './support/targets.ts';

const pooled: readonly Isolation[] = ['row', 'schema'];
const skip = skipTarget(poolerTarget);

for (const isolation of pooled) {
  describe.skipIf(skip)(`interleaving, ${isolation} through PgBouncer`, () => {
    // Five app connections share two server connections, so tenants swap servers constantly.
    const d = useLeakDeployment(poolerTarget, { pool: { shared: 5 } }, 2);
    // The 10,000-session run is the direct pg one; here 2,000 keep the kit's time in bounds.
    interleavingCase(d, { isolation, tenants: 50, requests: 2_000, concurrency: 20,
      note: 'through PgBouncer' }, poolerTarget.name);
  });
}

describe.skipIf(skip)('no tenant context through PgBouncer', () => {
  // One app connection over one server connection: the next user is the same server backend.
  const d = useLeakDeployment(poolerTarget, { pool: { shared: 1 } }, 1);
  for (const isolation of pooled) {
    noContextCases(d, { isolation, prefix: `pb${isolation[0]}`, poolOfOne: true },
      poolerTarget.name);
  }
});

describe.skipIf(skip)('statements and settings through PgBouncer', () => {
  // Two app connections over one server connection: sessions of both tenants take turns on it.
  const d = useLeakDeployment(poolerTarget, { pool: { shared: 2 } }, 1);
  const tenants = ['ps-one', 'ps-two', 'ps-three', 'ps-four'];

  beforeAll(async () => {
    for (const id of tenants) {
      const isolation = id === 'ps-one' || id === 'ps-two' ? 'schema' : 'row';
      await d.tenancy.tenants.create({ id, isolation });
      await d.tenancy.withTenant(id, async (t) => {
        for (const n of [1, 2]) await t.documents.create({ id: `${id}-${n}`, title: id, text: id });
      });
    }
  });

  const ids = async (t: TenantScope, sql: string): Promise<string> =>
    (await t.session.query<{ id: string }>(sql)).rows.map((r) => r.id).join(',');

  it('gives each tenant its own rows for the same SQL text, run many times in turn on one ' +
    'server connection, and leaves no search_path behind', async () => {
    // Unqualified: the table is found through the search_path the session sets for itself.
    const sameText = 'SELECT id FROM documents ORDER BY id';
    const backends = new Set<number>();
    const seen: string[] = [];
    for (let round = 0; round < 8; round += 1) {
      for (const id of ['ps-one', 'ps-two']) {
        seen.push(await d.tenancy.withTenant(id, async (t) => {
          backends.add((await t.session.query<{ pid: number }>(
            'SELECT pg_backend_pid() AS pid')).rows[0]?.pid as number);
          // A session that never sets one finds the server's default, not the last tenant's.
          const inherited = (await t.session.query<{ path: string }>(
            "SELECT current_setting('search_path') AS path")).rows[0]?.path;
          await t.session.query(`SET LOCAL search_path TO "tenant_${id}"`);
          // Past five runs the server would switch a prepared statement to a generic plan.
          const runs = [];
          for (let i = 0; i < 7; i += 1) runs.push(await ids(t, sameText));
          return `${id} ${inherited} ${[...new Set(runs)].join('|')}`;
        }));
      }
    }
    expect(backends.size).toBe(1);
    expect(seen).toEqual(Array.from({ length: 8 }, () => [
      'ps-one "$user", public ps-one-1,ps-one-2', 'ps-two "$user", public ps-two-1,ps-two-2',
    ]).flat());
    // Without its own search_path, the unqualified text finds no tenant's table at all.
    const bare = await d.tenancy.withTenant('ps-one', (t) => ids(t, sameText))
      .catch((err: unknown) => (isTenancyError(err) ? `${err.code} ${err.sqlState}` : 'raw'));
    expect(bare).toBe('DATABASE_ERROR 42P01');
  });

  it('keeps no prepared statement on the server connection, and refuses to make one', async () => {
    for (const id of tenants) {
      const left = await d.tenancy.withTenant(id, async (t) => {
        await t.documents.list();
        await t.documents.get(`${id}-1`);
        return (await t.session.query<{ name: string }>(
          'SELECT name FROM pg_prepared_statements')).rows.map((r) => r.name);
      });
      expect(left).toEqual([]);
      const made = await d.tenancy.withTenant(id, (t) => t.session.query(
        `PREPARE leak AS SELECT id FROM ${t.session.table('documents')}`))
        .catch((err: unknown) => (isTenancyError(err) ? err.code : 'raw'));
      expect(made).toBe('SESSION_SETTING_REFUSED');
    }
    // Row isolation: the very same qualified text serves each tenant its own rows.
    const rowText = 'SELECT id FROM "tenancy_rows"."documents" ORDER BY id';
    const rows: string[] = [];
    for (let round = 0; round < 4; round += 1) {
      for (const id of ['ps-three', 'ps-four']) {
        rows.push(await d.tenancy.withTenant(id, async (t) => {
          const runs = [];
          for (let i = 0; i < 7; i += 1) runs.push(await ids(t, rowText));
          return [...new Set(runs)].join('|');
        }));
      }
    }
    expect(rows).toEqual(Array.from({ length: 4 },
      () => ['ps-three-1,ps-three-2', 'ps-four-1,ps-four-2']).flat());
  });
});
