// Code inside a tenant session cannot call tenancy.enter_tenant to become another tenant: the
// function the session itself enters through refuses a second entry in one transaction.
import { describe, expect, it } from 'vitest';
import { drivers, tenantName } from '../support/drivers.ts';
import { expectCode, skipDriver, useDeployment } from './harness.ts';

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`re-entering a session as another tenant (${kind})`, () => {
    const d = useDeployment(kind);

    it('refuses tenancy.enter_tenant inside a session and shows nothing of the other tenant',
      async () => {
        const own = tenantName('re');
        const other = tenantName('ro');
        await d.tenancy.tenants.create({ id: own, isolation: 'row' });
        await d.tenancy.tenants.create({ id: other, isolation: 'row' });
        await d.tenancy.withTenant(other, (t) =>
          t.documents.create({ id: 'secret', title: 'S', text: 'of the other tenant' }));

        await expectCode(d.tenancy.withTenant(own, async (t) => {
          await t.session.query('SELECT tenancy.enter_tenant($1, $2)', [other, 'tenancy_rows']);
          return t.documents.list();
        }), 'SESSION_SETTING_REFUSED');

        // The session's own tenant still sees only its own (empty) documents afterwards.
        const seen = await d.tenancy.withTenant(own, (t) => t.documents.list());
        expect(seen.items).toEqual([]);
      });
  });
}
