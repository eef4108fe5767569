// The per-tenant statement timeout on both drivers: a slow statement ends the session with
// STATEMENT_TIMEOUT, nothing of it commits, and the connection goes back clean.
import { describe, expect, it } from 'vitest';
import { drivers } from '../support/drivers.ts';
import { expectCode, skipDriver, useDeployment } from '../core/harness.ts';

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`statement timeout on ${kind}`, () => {
    // One runtime connection, so the session after a timeout reuses the very same one.
    const d = useDeployment(kind, {}, { pool: { shared: 1 } });

    async function tenants(): Promise<void> {
      for (const id of ['slow-one', 'calm-two']) {
        await d.tenancy.tenants.get(id).catch(() =>
          d.tenancy.tenants.create({ id, isolation: 'row' }));
      }
      await d.tenancy.tenants.setLimits('slow-one', { statementTimeoutMillis: 300 });
      await d.tenancy.tenants.setLimits('calm-two', { statementTimeoutMillis: 0 });
    }

    it('ends a slow statement with STATEMENT_TIMEOUT and commits nothing of the session',
      async () => {
        await tenants();
        await expectCode(d.tenancy.withTenant('slow-one', async (t) => {
          await t.documents.create({ id: 'written-before', title: 'lost', text: 'lost' });
          await t.session.query('SELECT pg_sleep(1)');
        }), 'STATEMENT_TIMEOUT');
        const left = await d.tenancy.withTenant('slow-one',
          (t) => t.documents.get('written-before'));
        expect(left).toBeUndefined();
      });

    it('does not let code that caught the timeout commit', async () => {
      await tenants();
      let caught: unknown;
      await expectCode(d.tenancy.withTenant('slow-one', async (t) => {
        await t.documents.create({ id: 'after-catch', title: 'lost', text: 'lost' });
        try {
          await t.session.query('SELECT pg_sleep(1)');
        } catch (err) {
          caught = err;
        }
        return 'pretend all went well';
      }), 'STATEMENT_TIMEOUT');
      expect(caught).toMatchObject({ code: 'STATEMENT_TIMEOUT' });
      expect(await d.tenancy.withTenant('slow-one', (t) => t.documents.get('after-catch')))
        .toBeUndefined();
    });

    it('hands the connection on clean: no timeout, no tenant of the previous session', async () => {
      await tenants();
      await d.tenancy.withTenant('calm-two', (t) =>
        t.documents.create({ id: `calm-${Date.now()}`, title: 'mine', text: 'mine' }));
      await expectCode(d.tenancy.withTenant('slow-one', (t) =>
        t.session.query('SELECT pg_sleep(1)')), 'STATEMENT_TIMEOUT');
      const seen = await d.tenancy.withTenant('calm-two', async (t) => {
        const settings = await t.session.query<{ timeout: string; tenant: string }>(
          "SELECT current_setting('statement_timeout') AS timeout, " +
          "current_setting('tenancy.tenant_id') AS tenant");
        const owners = await t.session.query<{ tenant_id: string }>(
          `SELECT DISTINCT tenant_id FROM ${t.session.table('documents')}`);
        return { ...settings.rows[0], owners: owners.rows.map((r) => r.tenant_id) };
      });
      expect(seen).toEqual({ timeout: '0', tenant: 'calm-two', owners: ['calm-two'] });
      // The same tenant's next session is bound by its limit again, and quick statements pass.
      const quick = await d.tenancy.withTenant('slow-one', async (t) => {
        const row = await t.session.query<{ timeout: string }>(
          "SELECT current_setting('statement_timeout') AS timeout");
        return row.rows[0]?.timeout;
      });
      expect(quick).toBe('300ms');
    });

    it('lets a tenant without a limit run long statements', async () => {
      await tenants();
      const slept = await d.tenancy.withTenant('calm-two', async (t) => {
        await t.session.query('SELECT pg_sleep(0.5)');
        return true;
      });
      expect(slept).toBe(true);
    });

    it("refuses a session's attempt to lift its own timeout", async () => {
      await tenants();
      for (const sql of ['SET LOCAL statement_timeout = 0', "SET LOCAL statement_timeout TO '1h'",
        "SELECT set_config('statement_timeout', '0', true)"]) {
        await expectCode(d.tenancy.withTenant('slow-one', (t) => t.session.query(sql)),
          'SESSION_SETTING_REFUSED');
      }
    });

    it('applies the config default to tenants without an override', async () => {
      const id = `deflt-${kind}`;
      await d.tenancy.tenants.create({ id, isolation: 'row' });
      const view = await d.tenancy.tenants.limits(id);
      expect(view).toEqual({ tenantId: id, overrides: {},
        effective: { requestsPerSecond: 0, burst: 100, statementTimeoutMillis: 30_000 } });
      const timeout = await d.tenancy.withTenant(id, async (t) => (await t.session.query<{
        s: string }>("SELECT current_setting('statement_timeout') AS s")).rows[0]?.s);
      expect(timeout).toBe('30s');
    });
  });
}
