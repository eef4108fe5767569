// The audit log over HTTP: failed logins, tenants named by the client (served as the key's own
// tenant and recorded as denied), admin actions with their request id, and GET /admin/audit.
import { beforeAll, describe, expect, it } from 'vitest';
import { drivers, tenantName } from '../support/drivers.ts';
import {
  admin, adminToken, bearer, createTenant, expectError, skipDriver, useApp, type CreatedTenant,
} from './harness.ts';

interface AuditRow {
  id: string; region: string; at: string; actor: { kind: string; id?: string };
  tenantId: string | null; action: string; resource: string | null; outcome: string;
  code: string | null; detail: string | null; requestId: string | null;
}

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`audit over HTTP on ${kind}`, () => {
    const d = useApp(kind, { config: { server: { maxPageSize: 5 } } });
    let alice: CreatedTenant;
    let bob: CreatedTenant;

    beforeAll(async () => {
      alice = await createTenant(d.app, tenantName('alice'), 'row');
      bob = await createTenant(d.app, tenantName('bob'), 'schema');
      const res = await d.app.inject({ method: 'POST', url: '/v1/documents',
        headers: bearer(bob.secret), payload: { id: 'bobs-doc', title: 'bob', text: 'bob' } });
      expect(res.statusCode).toBe(201);
    });

    /** Every record matching the query, read through the admin route page by page. */
    async function audit(query: Record<string, string> = {}): Promise<AuditRow[]> {
      const out: AuditRow[] = [];
      let cursor: string | undefined;
      do {
        const params = new URLSearchParams({ ...query, ...(cursor ? { cursor } : {}) });
        const res = await d.app.inject({ url: `/admin/audit?${params}`, headers: admin });
        expect(res.statusCode, res.body).toBe(200);
        const body = res.json() as { items: AuditRow[]; next: string | null };
        expect(body.items.length).toBeLessThanOrEqual(5);
        out.push(...body.items);
        cursor = body.next ?? undefined;
      } while (cursor !== undefined);
      return out;
    }

    it('records failed authentications without the token', async () => {
      const forged = `${alice.secret.slice(0, -4)}AAAA`;
      const keyId = alice.keyId;
      const noToken = await d.app.inject({ url: '/v1/documents' });
      const badKey = await d.app.inject({ url: '/v1/documents', headers: bearer(forged) });
      const badAdmin = await d.app.inject({ url: '/admin/tenants',
        headers: bearer(`${adminToken}x`) });
      for (const res of [noToken, badKey, badAdmin]) expectError(res, 401, 'UNAUTHENTICATED');
      await d.tenancy.audit.flush();
      const failed = await audit({ action: 'auth.failed' });
      const byRequest = new Map(failed.map((r) => [r.requestId, r]));
      expect(byRequest.get(noToken.headers['x-request-id'] as string)).toMatchObject({
        outcome: 'denied', actor: { kind: 'anonymous' }, resource: 'GET /v1/documents',
        code: 'UNAUTHENTICATED', detail: 'no bearer token', tenantId: null,
      });
      expect(byRequest.get(badKey.headers['x-request-id'] as string)).toMatchObject({
        actor: { kind: 'anonymous', id: keyId }, detail: 'unknown, revoked or malformed api key',
      });
      expect(byRequest.get(badAdmin.headers['x-request-id'] as string)).toMatchObject({
        resource: 'GET /admin/tenants', detail: 'wrong admin token',
      });
      const text = JSON.stringify(failed);
      expect(text).not.toContain(forged.slice(forged.indexOf('_', 4) + 1));
      expect(text).not.toContain(adminToken);
    });

    it("serves a request naming another tenant as the key's own and records it as denied",
      async () => {
        const attempts = [
          { url: '/v1/documents', headers: { ...bearer(alice.secret), 'x-tenant-id': bob.id } },
          { url: `/v1/documents?tenant=${bob.id}`, headers: bearer(alice.secret) },
          { url: `/v1/documents?tenantId=${bob.id}`, headers: bearer(alice.secret) },
          { url: '/v1/documents', headers: { ...bearer(alice.secret),
            host: `${bob.id}.tenancy.example` } },
        ];
        const requestIds: string[] = [];
        for (const attempt of attempts) {
          const res = await d.app.inject(attempt);
          expect(res.statusCode, res.body).toBe(200);
          // Alice's (empty) list, never Bob's document.
          expect(res.json()).toEqual({ items: [], next: null });
          requestIds.push(res.headers['x-request-id'] as string);
        }
        const viaBody = await d.app.inject({ method: 'POST', url: '/v1/documents',
          headers: bearer(alice.secret),
          payload: { tenantId: bob.id, title: 'sneaky', text: 'sneaky' } });
        expectError(viaBody, 400, 'VALIDATION_FAILED');
        requestIds.push(viaBody.headers['x-request-id'] as string);
        const read = await d.app.inject({ url: '/v1/documents/bobs-doc',
          headers: { ...bearer(alice.secret), 'x-tenant-id': bob.id } });
        expectError(read, 404, 'NOT_FOUND');

        await d.tenancy.audit.flush();
        const denied = await audit({ action: 'access.cross_tenant', tenant: alice.id });
        const mine = requestIds.map((id) => denied.find((r) => r.requestId === id));
        expect(mine.map((r) => r?.detail)).toEqual([
          "named in header x-tenant-id; served as the key's own tenant",
          "named in query tenant; served as the key's own tenant",
          "named in query tenantId; served as the key's own tenant",
          "named in host host; served as the key's own tenant",
          "named in body tenantId; served as the key's own tenant",
        ]);
        for (const record of mine) {
          expect(record).toMatchObject({ outcome: 'denied', tenantId: alice.id,
            resource: `tenant:${bob.id}`, actor: { kind: 'api-key', id: alice.keyId } });
        }
        // Nothing about these attempts was filed under Bob.
        expect((await audit({ action: 'access.cross_tenant', tenant: bob.id }))).toEqual([]);
      });

    it('records nothing when a request names only its own tenant or a host that is no tenant',
      async () => {
        const before = (await audit({ action: 'access.cross_tenant' })).length;
        for (const headers of [
          { ...bearer(alice.secret), 'x-tenant-id': alice.id },
          { ...bearer(alice.secret), host: 'api.tenancy.example' },
          { ...bearer(alice.secret), host: '127.0.0.1:8080' },
        ]) {
          const res = await d.app.inject({ url: '/v1/documents', headers });
          expect(res.statusCode).toBe(200);
        }
        await d.tenancy.audit.flush();
        expect((await audit({ action: 'access.cross_tenant' })).length).toBe(before);
      });

    it('records admin actions with the admin actor and the request id', async () => {
      const id = tenantName('adm');
      const created = await d.app.inject({ method: 'POST', url: '/admin/tenants', headers: admin,
        payload: { id, isolation: 'row' } });
      const again = await d.app.inject({ method: 'POST', url: '/admin/tenants', headers: admin,
        payload: { id, isolation: 'row' } });
      const suspended = await d.app.inject({ method: 'POST', url: `/admin/tenants/${id}/suspend`,
        headers: admin });
      const key = await d.app.inject({ method: 'POST', url: `/admin/tenants/${id}/keys`,
        headers: admin });
      const keyId = (key.json() as { keyId: string }).keyId;
      const revoked = await d.app.inject({ method: 'DELETE',
        url: `/admin/tenants/${id}/keys/${keyId}`, headers: admin });
      const deleted = await d.app.inject({ method: 'DELETE', url: `/admin/tenants/${id}`,
        headers: admin });
      expect([created, again, suspended, key, revoked, deleted].map((r) => r.statusCode))
        .toEqual([201, 409, 200, 201, 204, 200]);
      const records = (await audit({ tenant: id })).reverse();
      expect(records.map((r) => [r.action, r.outcome, r.code, r.actor.kind, r.requestId]))
        .toEqual([
          ['tenant.create', 'ok', null, 'admin', created.headers['x-request-id']],
          ['tenant.create', 'failed', 'TENANT_EXISTS', 'admin', again.headers['x-request-id']],
          ['tenant.suspend', 'ok', null, 'admin', suspended.headers['x-request-id']],
          ['key.issue', 'ok', null, 'admin', key.headers['x-request-id']],
          ['key.revoke', 'ok', null, 'admin', revoked.headers['x-request-id']],
          ['tenant.delete', 'ok', null, 'admin', deleted.headers['x-request-id']],
        ]);
      expect(records[4]?.resource).toBe(`key:${keyId}`);
    });

    it('filters and pages GET /admin/audit, capped at the page size, behind the admin token',
      async () => {
        expectError(await d.app.inject({ url: '/admin/audit' }), 401, 'UNAUTHENTICATED');
        expectError(await d.app.inject({ url: '/admin/audit', headers: bearer(alice.secret) }),
          401, 'UNAUTHENTICATED');
        const big = await d.app.inject({ url: '/admin/audit?limit=1000', headers: admin });
        expect(big.json().items).toHaveLength(5);
        expect(typeof big.json().next).toBe('string');
        const ok = await audit({ outcome: 'ok', action: 'tenant.*' });
        expect(ok.length).toBeGreaterThanOrEqual(3);
        expect(ok.every((r) => r.outcome === 'ok' && r.action.startsWith('tenant.'))).toBe(true);
        expect((await audit({ actor: 'admin' })).every((r) => r.actor.kind === 'admin'))
          .toBe(true);
        const future = new Date(Date.now() + 3_600_000).toISOString();
        expect(await audit({ since: future })).toEqual([]);
        expect((await audit({ until: future })).length).toBeGreaterThan(5);
        expectError(await d.app.inject({ url: '/admin/audit?outcome=maybe', headers: admin }),
          400, 'VALIDATION_FAILED');
        expectError(await d.app.inject({ url: '/admin/audit?cursor=zzz', headers: admin }),
          400, 'VALIDATION_FAILED');
        expectError(await d.app.inject({ url: '/admin/audit?tenant=..%2Fetc', headers: admin }),
          400, 'TENANT_ID_INVALID');
      });
  });
}
