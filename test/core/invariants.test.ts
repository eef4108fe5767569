// Database invariants per driver and isolation: runtime role, forced RLS, context per transaction.
import { beforeAll, describe, expect, it } from 'vitest';
import { drivers, isolations } from '../support/drivers.ts';
import {
  runtimeClient, runtimeRole, schemaOf, skipDriver, sqlStateOf, useDeployment,
} from './harness.ts';

const tables = [
  'conversations', 'document_embeddings', 'documents', 'embedding_settings', 'messages',
];
const policyCheck = /tenant_id = \( SELECT tenancy\.current_tenant\(\)/;

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`database invariants on ${kind}`, () => {
    // One shared connection and one tenant-database connection: every session reuses them.
    const d = useDeployment(kind, {}, { pool: { shared: 1, tenantDatabases: 1 } });
    const ids = isolations.flatMap((isolation) => [`inv-${isolation}`, `other-${isolation}`]);

    beforeAll(async () => {
      for (const id of ids) {
        const isolation = isolations.find((i) => id.endsWith(i)) ?? 'row';
        await d.tenancy.tenants.create({ id, isolation });
        await d.tenancy.withTenant(id, (t) =>
          t.documents.create({ title: `${id} seed`, text: id }));
      }
    });

    it.each(isolations)('runs %s sessions as a runtime role that owns nothing and obeys RLS',
      async (isolation) => {
        const id = `inv-${isolation}`;
        const schema = schemaOf(isolation, id);
        const seen = await d.tenancy.withTenant(id, async ({ session }) => ({
          role: (await session.query(
            `select current_user, rolsuper, rolbypassrls from pg_roles
              where rolname = current_user`,
          )).rows,
          tables: (await session.query<{ relname: string; owner: string; rls: boolean;
            forced: boolean }>(
            `select c.relname, pg_get_userbyid(c.relowner) as owner,
                    c.relrowsecurity as rls, c.relforcerowsecurity as forced
               from pg_class c join pg_namespace n on n.oid = c.relnamespace
              where n.nspname = $1 and c.relkind = 'r' order by c.relname`, [schema])).rows,
          schemaOwner: (await session.query<{ owner: string }>(
            'select pg_get_userbyid(nspowner) as owner from pg_namespace where nspname = $1',
            [schema])).rows[0]?.owner,
          policies: (await session.query<{ tablename: string; policyname: string; cmd: string;
            qual: string; with_check: string }>(
            `select tablename, policyname, cmd, qual, with_check from pg_policies
              where schemaname = $1 order by tablename`, [schema])).rows,
          tenant: (await session.query<{ tenant: string }>(
            "select current_setting('tenancy.tenant_id', true) as tenant")).rows[0]?.tenant,
        }));
        expect(seen.role).toEqual([
          { current_user: runtimeRole, rolsuper: false, rolbypassrls: false },
        ]);
        expect(seen.tables.map((t) => t.relname)).toEqual(tables);
        for (const table of seen.tables) {
          expect(table.owner).not.toBe(runtimeRole);
          expect(table.rls).toBe(true);
          expect(table.forced).toBe(true);
        }
        expect(seen.schemaOwner).toBeDefined();
        expect(seen.schemaOwner).not.toBe(runtimeRole);
        expect(seen.policies.map((p) => [p.tablename, p.policyname, p.cmd]))
          .toEqual(tables.map((t) => [t, 'tenant_isolation', 'ALL']));
        for (const policy of seen.policies) {
          expect(policy.qual).toMatch(policyCheck);
          expect(policy.with_check).toMatch(policyCheck);
        }
        expect(seen.tenant).toBe(id);
      });

    it.skipIf(kind !== 'pg').each(isolations)(
      'refuses the runtime role %s tenant tables without a context (TN001)', async (isolation) => {
        const id = `inv-${isolation}`;
        const database = isolation === 'database'
          ? `${d.deployment.prefix}${id}`
          : new URL(d.deployment.databaseUrl as string).pathname.slice(1);
        const documents = `"${schemaOf(isolation, id)}".documents`;
        const raw = await runtimeClient(database);
        try {
          const who = await raw.query(
            "select current_user as role, current_setting('tenancy.tenant_id', true) as tenant");
          expect(who.rows[0]).toMatchObject({ role: runtimeRole });
          expect(who.rows[0]?.tenant ?? '').toBe('');
          expect(await sqlStateOf(raw.query(`select * from ${documents}`))).toBe('TN001');
          expect(await sqlStateOf(raw.query(`select count(*) from ${documents}`))).toBe('TN001');
          expect(await sqlStateOf(raw.query(
            `insert into ${documents} (id, title, text) values ('x', 'x', 'x')`))).toBe('TN001');
          expect(await sqlStateOf(raw.query(
            `insert into ${documents} (tenant_id, id, title, text) values ($1, 'x', 'x', 'x')`,
            [id]))).toBe('TN001');
          expect(await sqlStateOf(raw.query(`update ${documents} set title = 'x'`))).toBe('TN001');
          expect(await sqlStateOf(raw.query(`delete from ${documents}`))).toBe('TN001');
          // With a transaction-local context the same connection sees the tenant's rows, and
          // only for that transaction.
          await raw.query('begin');
          await raw.query("select set_config('tenancy.tenant_id', $1, true)", [id]);
          const titles = await raw.query<{ id: string; title: Buffer }>(
            `select id, title from ${documents}`);
          await raw.query('commit');
          // The title is stored sealed: raw SQL sees an envelope, the store the plaintext.
          expect(titles.rows).toHaveLength(1);
          const [row] = titles.rows as [{ id: string; title: Buffer }];
          expect(row.title[0]).toBe(0xe7);
          expect(row.title.includes(Buffer.from(`${id} seed`))).toBe(false);
          expect(await d.tenancy.keys.open(id,
            { table: 'documents', column: 'title', rowId: row.id }, row.title))
            .toBe(`${id} seed`);
          expect(await sqlStateOf(raw.query(`select * from ${documents}`))).toBe('TN001');
        } finally {
          await raw.end();
        }
      });

    it('never carries a context to the next session on a pool of one (200 sessions)', async () => {
      const sharedPids = new Set<number>();
      for (let i = 0; i < 200; i += 1) {
        const id = ids[i % ids.length] as string;
        const rollBack = i % 25 === 7;
        const run = d.tenancy.withTenant(id, async (t) => {
          const state = (await t.session.query<{ tenant: string; pid: number }>(
            `select current_setting('tenancy.tenant_id', true) as tenant,
                    pg_backend_pid() as pid`)).rows[0];
          const titles = (await t.documents.list({ limit: 1000 })).items.map((doc) => doc.title);
          if (rollBack) {
            await t.documents.create({ title: `${id} rolled back`, text: '' });
            throw new Error('roll this session back');
          }
          return { state, titles };
        });
        if (rollBack) {
          await expect(run).rejects.toThrow();
          continue;
        }
        const { state, titles } = await run;
        expect(state?.tenant).toBe(id);
        expect(titles).toEqual([`${id} seed`]);
        if (!id.endsWith('database')) sharedPids.add(state?.pid as number);
      }
      // One backend served every row and schema tenant, so the test really shared a connection.
      expect(sharedPids.size).toBe(1);
    });
  });
}
