// The /admin encryption routes: key status, rotation, background re-encryption, retirement,
// root rotation and shredding; and a moved value answered with its integrity code.
import { beforeAll, describe, expect, it } from 'vitest';
import { drivers } from '../support/drivers.ts';
import {
  admin, bearer, createTenant, expectError, skipDriver, useApp, type CreatedTenant,
} from '../http/harness.ts';

interface StatusBody {
  tenantId: string;
  activeVersion: number;
  dataKeys: { version: number; keyId: string; state: string }[];
  indexKeys: { keyId: string }[];
  masterKeyId: string;
  valuesByVersion: Record<string, number>;
  reencrypt: { targetVersion: number; done: number; total: number; rewritten: number;
    finishedAt: string | null } | null;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`encryption admin routes on ${kind}`, () => {
    const d = useApp(kind, { config: { keyCache: { maxTenants: 100, maxAgeSeconds: 1 } } });
    let acme: CreatedTenant;
    let globex: CreatedTenant;

    beforeAll(async () => {
      acme = await createTenant(d.app, 'enc-acme', 'schema');
      globex = await createTenant(d.app, 'enc-globex', 'row');
      for (const tenant of [acme, globex]) {
        for (const id of ['c-1', 'c-2']) {
          const res = await d.app.inject({ method: 'POST', url: '/v1/conversations',
            headers: bearer(tenant.secret), payload: { id, title: `${tenant.id} ${id}`,
              messages: [{ role: 'user', content: 'secret plan' }] } });
          expect(res.statusCode, res.body).toBe(201);
        }
      }
    });

    const status = async (id: string): Promise<StatusBody> => {
      const res = await d.app.inject({ method: 'GET', url: `/admin/tenants/${id}/encryption`,
        headers: admin });
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as StatusBody;
    };

    it('needs the admin token and answers 404 for an unknown tenant', async () => {
      const none = await d.app.inject({ method: 'GET',
        url: `/admin/tenants/${acme.id}/encryption` });
      expectError(none, 401, 'UNAUTHENTICATED');
      const asTenant = await d.app.inject({ method: 'POST',
        url: `/admin/tenants/${acme.id}/encryption/rotate`, headers: bearer(acme.secret) });
      expectError(asTenant, 401, 'UNAUTHENTICATED');
      const unknown = await d.app.inject({ method: 'GET', url: '/admin/tenants/nobody/encryption',
        headers: admin });
      expectError(unknown, 404, 'TENANT_NOT_FOUND');
    });

    it('answers a value moved to another row with DECRYPT_FAILED and no content', async () => {
      await d.tenancy.withTenant(acme.id, async (t) => {
        const table = t.session.table('conversations');
        await t.session.query(`UPDATE ${table} SET title = (SELECT title FROM ${table}
          WHERE id = 'c-1') WHERE id = 'c-2'`);
      });
      const res = await d.app.inject({ method: 'GET', url: '/v1/conversations/c-2',
        headers: bearer(acme.secret) });
      const message = expectError(res, 500, 'DECRYPT_FAILED');
      expect(message).toMatch(/^an encrypted value failed its integrity check/);
      expect(res.body).not.toContain('enc-acme c-1');
      const fine = await d.app.inject({ method: 'GET', url: '/v1/conversations/c-1',
        headers: bearer(acme.secret) });
      expect(fine.json()).toMatchObject({ title: 'enc-acme c-1' });
      await d.tenancy.withTenant(acme.id, (t) => t.conversations.update('c-2',
        { title: 'enc-acme c-2' }));
    });

    it('rotates, re-encrypts in the background, then retires version 1', async () => {
      const before = await status(acme.id);
      expect(before).toMatchObject({ tenantId: acme.id, activeVersion: 1,
        valuesByVersion: { 1: 4 }, reencrypt: null });
      const rotated = await d.app.inject({ method: 'POST',
        url: `/admin/tenants/${acme.id}/encryption/rotate`, headers: admin });
      expect(rotated.statusCode, rotated.body).toBe(200);
      expect((rotated.json() as StatusBody).activeVersion).toBe(2);
      const early = await d.app.inject({ method: 'POST',
        url: `/admin/tenants/${acme.id}/encryption/retire`, headers: admin,
        payload: { version: 1 } });
      expectError(early, 409, 'KEY_VERSION_IN_USE');
      const bad = await d.app.inject({ method: 'POST',
        url: `/admin/tenants/${acme.id}/encryption/retire`, headers: admin,
        payload: { version: 'one' } });
      expectError(bad, 400, 'VALIDATION_FAILED');

      const started = await d.app.inject({ method: 'POST',
        url: `/admin/tenants/${acme.id}/encryption/reencrypt`, headers: admin });
      expect(started.statusCode, started.body).toBe(202);
      expect(started.json()).toEqual({ tenantId: acme.id, running: true });
      let now = await status(acme.id);
      for (let i = 0; i < 100 && now.reencrypt?.finishedAt == null; i += 1) {
        await sleep(100);
        now = await status(acme.id);
      }
      expect(now.reencrypt).toMatchObject({ targetVersion: 2, done: 4, total: 4, rewritten: 4 });
      expect(now.valuesByVersion).toEqual({ 2: 4 });
      await sleep(1100);
      const retired = await d.app.inject({ method: 'POST',
        url: `/admin/tenants/${acme.id}/encryption/retire`, headers: admin,
        payload: { version: 1 } });
      expect(retired.statusCode, retired.body).toBe(200);
      expect((retired.json() as StatusBody).dataKeys.map((k) => k.state))
        .toEqual(['retired', 'active']);
      const read = await d.app.inject({ method: 'GET', url: '/v1/conversations/c-1',
        headers: bearer(acme.secret) });
      expect(read.json()).toMatchObject({ title: 'enc-acme c-1',
        messages: [{ content: 'secret plan' }] });
    });

    it('rotates the root key of every region', async () => {
      const before = await status(globex.id);
      const res = await d.app.inject({ method: 'POST', url: '/admin/encryption/rotate-root',
        headers: admin, payload: {} });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json() as { regions: { region: string; rootKeyId: string;
        rewrapped: number }[] };
      expect(body.regions).toHaveLength(1);
      expect(body.regions[0]).toMatchObject({ region: 'local', rewrapped: 2 });
      const after = await status(globex.id);
      expect(after.dataKeys).toEqual(before.dataKeys);
      const unknown = await d.app.inject({ method: 'POST', url: '/admin/encryption/rotate-root',
        headers: admin, payload: { region: 'mars' } });
      expectError(unknown, 400, 'REGION_UNKNOWN');
    });

    it('shreds a tenant and answers its deletion record', async () => {
      const keys = await status(globex.id);
      const res = await d.app.inject({ method: 'POST', url: `/admin/tenants/${globex.id}/shred`,
        headers: admin });
      expect(res.statusCode, res.body).toBe(200);
      const record = res.json() as { tenantId: string; shredded: boolean; keyIds: string[];
        deletedAt: string };
      expect(record).toMatchObject({ tenantId: globex.id, shredded: true, region: 'local' });
      expect(record.keyIds).toEqual([keys.masterKeyId, ...keys.dataKeys.map((k) => k.keyId),
        ...keys.indexKeys.map((k) => k.keyId)]);
      const gone = await d.app.inject({ method: 'GET',
        url: `/admin/tenants/${globex.id}/encryption`, headers: admin });
      expectError(gone, 410, 'KEYS_DESTROYED');
      // A regression: re-encrypting a deleted tenant answered 202 and failed in the background.
      const again = await d.app.inject({ method: 'POST',
        url: `/admin/tenants/${globex.id}/encryption/reencrypt`, headers: admin });
      expectError(again, 404, 'TENANT_NOT_FOUND');
      const asTenant = await d.app.inject({ method: 'GET', url: '/v1/conversations/c-1',
        headers: bearer(globex.secret) });
      expectError(asTenant, 401, 'UNAUTHENTICATED');
      // The other tenant still reads.
      const other = await d.app.inject({ method: 'GET', url: '/v1/conversations/c-1',
        headers: bearer(acme.secret) });
      expect(other.statusCode).toBe(200);
    });
  });
}
