// A tenant session: it refuses statements that would end its transaction or change who it serves,
// and reports results the same way on both drivers.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tenancy } from '../../src/index.ts';
import { drivers, isolations } from '../support/drivers.ts';
import { expectCode, runtimeRole, skipDriver, useDeployment } from './harness.ts';

const refused = [
  'SET search_path TO public',
  'SET ROLE postgres',
  'COMMIT',
  'RESET ALL',
  "select set_config('tenancy.tenant_id','other',false)",
  "select set_config('tenancy.tenant_id','other',true)",
  'BEGIN',
  'ROLLBACK',
  'END',
  'DISCARD ALL',
  "PREPARE TRANSACTION 'escape'",
  'SET LOCAL ROLE postgres',
  'SET SESSION AUTHORIZATION postgres',
  "select set_config('role', 'postgres', true)",
  "select set_config('session_authorization', 'postgres', true)",
  '/* leading comment */ COMMIT',
  '-- line comment\n  set role postgres',
  "SELECT SET_CONFIG ( 'search_path' , 'public' , FALSE )",
  "select set_config('TENANCY.TENANT_ID', 'other', true)",
];

// Each of these reached the server before: they switched the session's tenant, raised it to the
// superuser on PGlite, or left a session-wide setting on the pooled connection.
const bypasses: Array<[string, string]> = [
  ['SET LOCAL of the tenant setting', "SET LOCAL tenancy.tenant_id = 'vic-row'"],
  ['SET LOCAL of the quoted tenant setting', `SET LOCAL "tenancy"."tenant_id" = 'vic-row'`],
  ['a quoted set_config', `select "set_config"('tenancy.tenant_id', 'vic-row', true)`],
  ['a comment before the set_config parenthesis',
    "select set_config/**/('tenancy.tenant_id', 'vic-row', true)"],
  ['SET LOCAL of a quoted role', `SET LOCAL "role" = 'postgres'`],
  ['SET LOCAL session_authorization', "SET LOCAL session_authorization = 'postgres'"],
  ['a comment between SET and its target', "SET/**/tenancy.tenant_id = 'vic-row'"],
  ['a nested comment before SET', '/* a /* nested */ comment */ SET ROLE postgres'],
  ['UPDATE pg_settings',
    "update pg_settings set setting = 'vic-row' where name = 'tenancy.tenant_id'"],
  ['a DO block', "DO $$ BEGIN EXECUTE 'SET LOCAL ROLE postgres'; END $$"],
  ['a set_config name built by concatenation',
    "select set_config('tenancy' || '.tenant_id', 'vic-row', true)"],
  ['a unicode-escaped identifier', `SET LOCAL U&"rol\\0065" = 'postgres'`],
];

/** Titles of a tenant's documents, sorted. */
async function titles(tenancy: Tenancy, id: string): Promise<string[]> {
  return tenancy.withTenant(id, async (t) =>
    (await t.documents.list({ limit: 1000 })).items.map((doc) => doc.title).sort());
}

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`session refusals on ${kind}`, () => {
    const d = useDeployment(kind);

    beforeAll(async () => {
      for (const isolation of isolations) {
        await d.tenancy.tenants.create({ id: `ref-${isolation}`, isolation });
        await d.tenancy.withTenant(`ref-${isolation}`, (t) =>
          t.documents.create({ title: 'kept', text: '' }));
      }
      await d.tenancy.tenants.create({ id: 'vic-row', isolation: 'row' });
      await d.tenancy.withTenant('vic-row', (t) =>
        t.documents.create({ title: 'secret', text: '' }));
    });

    it.each(isolations)('refuses escapes in a %s session and rolls the session back',
      async (isolation) => {
        const id = `ref-${isolation}`;
        for (const sql of refused) {
          await expectCode(d.tenancy.withTenant(id, async (t) => {
            await t.documents.create({ title: 'written before the refusal', text: '' });
            await t.session.query(sql);
          }), 'SESSION_SETTING_REFUSED');
        }
        expect(await titles(d.tenancy, id)).toEqual(['kept']);
      });

    it.each(isolations)('refuses before the server sees it: the %s session goes on',
      async (isolation) => {
        const id = `ref-${isolation}`;
        const after = await d.tenancy.withTenant(id, async (t) => {
          for (const sql of [...refused, ...bypasses.map(([, text]) => text)]) {
            await expectCode(t.session.query(sql), 'SESSION_SETTING_REFUSED');
          }
          // An aborted transaction would fail this with 25P02; an untouched one answers.
          return (await t.session.query<{ role: string; tenant: string }>(
            `select current_user as role, current_setting('tenancy.tenant_id', true) as tenant`,
          )).rows[0];
        });
        expect(after).toEqual({ role: runtimeRole, tenant: id });
      });

    it.each(['select 1; select 2', 'select 1; commit', 'select 1; set role postgres'])(
      'has the server refuse the multi-statement string %j', async (sql) => {
        const err = await expectCode(d.tenancy.withTenant('ref-row', (t) => t.session.query(sql)),
          'DATABASE_ERROR');
        expect(err.sqlState).toBe('42601');
        expect(err.tenantId).toBe('ref-row');
      });

    it.each(bypasses)('no longer lets %s escape the session', async (_label, sql) => {
      const seen = await d.tenancy.withTenant('ref-row', async (t) => {
        const err = await expectCode(t.session.query(sql), 'SESSION_SETTING_REFUSED');
        const state = (await t.session.query<{ role: string; tenant: string; rows: number }>(
          `select current_user as role, current_setting('tenancy.tenant_id', true) as tenant,
                  (select count(*)::int from ${t.session.table('documents')}) as rows`,
        )).rows[0];
        return { status: err.status, state };
      });
      expect(seen).toEqual({
        status: 500, state: { role: runtimeRole, tenant: 'ref-row', rows: 1 },
      });
      expect(await titles(d.tenancy, 'vic-row')).toEqual(['secret']);
    });

    it('no longer lets a set_config name bound as a parameter switch the tenant', async () => {
      const tenant = await d.tenancy.withTenant('ref-row', async (t) => {
        await expectCode(t.session.query('select set_config($1, $2, true)',
          ['tenancy.tenant_id', 'vic-row']), 'SESSION_SETTING_REFUSED');
        return (await t.session.query<{ tenant: string }>(
          "select current_setting('tenancy.tenant_id') as tenant")).rows[0]?.tenant;
      });
      expect(tenant).toBe('ref-row');
    });

    // statement_timeout is no longer one of them: it is the tenant's limit, set by the session
    // (test/access/statement-timeout.test.ts refuses a session's attempt to lift it).
    it('still runs transaction-local settings, savepoints and ordinary writes', async () => {
      const result = await d.tenancy.withTenant('ref-row', async (t) => {
        await t.session.query("SET LOCAL lock_timeout = '5s'");
        await t.session.query("select set_config('application_name', 'tenancy-test', true)");
        await t.session.query('SAVEPOINT before_write');
        await t.documents.create({ id: 'undone', title: 'undone', text: '' });
        await t.session.query('ROLLBACK TO SAVEPOINT before_write');
        await t.session.query('RELEASE SAVEPOINT before_write');
        await t.documents.create({ id: 'done', title: 'set_config and pg_settings', text: '' });
        return (await t.session.query<{ timeout: string; app: string }>(
          `select current_setting('lock_timeout') as timeout,
                  current_setting('application_name') as app`)).rows[0];
      });
      expect(result).toEqual({ timeout: '5s', app: 'tenancy-test' });
      expect(await titles(d.tenancy, 'ref-row')).toEqual(['kept', 'set_config and pg_settings']);
    });

    it.each(isolations)('counts the rows a SELECT returns in rowCount (was 0 on PGlite, %s)',
      async (isolation) => {
        const counts = await d.tenancy.withTenant(`ref-${isolation}`, async ({ session }) => {
          const documents = session.table('documents');
          const count = async (sql: string) => (await session.query(sql)).rowCount;
          return [
            await count('select * from generate_series(1, 3)'),
            await count(`select id from ${documents}`),
            await count(`select id from ${documents} where false`),
            await count(`update ${documents} set title = title`),
            await count(`update ${documents} set title = title where false`),
            await count(`update ${documents} set title = title returning id`),
          ];
        });
        const docs = (await titles(d.tenancy, `ref-${isolation}`)).length;
        expect(counts).toEqual([3, docs, 0, docs, 0, docs]);
      });
  });
}
