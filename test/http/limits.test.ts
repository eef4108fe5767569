// Limits over HTTP: a per-tenant rate keyed by the API key (429 + Retry-After, the others
// untouched), per-tenant overrides, the statement timeout as 503, and capped page sizes.
import { beforeAll, describe, expect, it } from 'vitest';
import type { TenantScope } from '../../src/index.ts';
import { drivers, tenantName } from '../support/drivers.ts';
import {
  admin, bearer, createTenant, expectError, skipDriver, useApp, type CreatedTenant,
} from './harness.ts';

// One token per 100 s after the burst: no token comes back while a test runs.
const limits = { requestsPerSecond: 0.01, burst: 3 };

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`rate limit on ${kind}`, () => {
    const d = useApp(kind, { config: { limits } });
    let busy: CreatedTenant;
    let quiet: CreatedTenant;
    let tuned: CreatedTenant;

    beforeAll(async () => {
      busy = await createTenant(d.app, tenantName('busy'), 'row');
      quiet = await createTenant(d.app, tenantName('quiet'), 'schema');
      tuned = await createTenant(d.app, tenantName('tuned'), 'row');
    });

    const list = (t: CreatedTenant, extra: Record<string, string> = {}) =>
      d.app.inject({ url: '/v1/conversations', headers: { ...bearer(t.secret), ...extra } });

    it('answers 429 with Retry-After past the burst, and leaves other tenants alone', async () => {
      const codes: number[] = [];
      for (let i = 0; i < 3; i++) codes.push((await list(busy)).statusCode);
      expect(codes).toEqual([200, 200, 200]);
      const limited = await list(busy);
      expectError(limited, 429, 'RATE_LIMITED');
      const retryAfter = Number(limited.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(100);
      // Another tenant, from the same address, still has its whole burst.
      expect((await list(quiet)).statusCode).toBe(200);
      // A second key of the busy tenant shares the tenant's budget: the limit is the tenant's.
      const second = await d.app.inject({ method: 'POST', url: `/admin/tenants/${busy.id}/keys`,
        headers: admin });
      const secret = (second.json() as { secret: string }).secret;
      expectError(await d.app.inject({ url: '/v1/conversations', headers: bearer(secret) }),
        429, 'RATE_LIMITED');
      // Naming another tenant does not move the request onto that tenant's budget.
      expectError(await list(busy, { 'x-tenant-id': quiet.id }), 429, 'RATE_LIMITED');
    });

    it('refuses before any work is done', async () => {
      const created = await d.app.inject({ method: 'POST', url: '/v1/documents',
        headers: bearer(busy.secret), payload: { id: 'not-made', title: 't', text: 't' } });
      expectError(created, 429, 'RATE_LIMITED');
      const exists = await d.tenancy.withTenant(busy.id, (t) => t.documents.get('not-made'));
      expect(exists).toBeUndefined();
    });

    it("takes a tenant's own override over the default", async () => {
      const set = await d.app.inject({ method: 'PUT', url: `/admin/tenants/${tuned.id}/limits`,
        headers: admin, payload: { burst: 6 } });
      expect(set.statusCode, set.body).toBe(200);
      expect(set.json()).toEqual({ tenantId: tuned.id, overrides: { burst: 6 },
        effective: { requestsPerSecond: 0.01, burst: 6, statementTimeoutMillis: 30_000 } });
      const codes: number[] = [];
      for (let i = 0; i < 7; i++) codes.push((await list(tuned)).statusCode);
      expect(codes).toEqual([200, 200, 200, 200, 200, 200, 429]);
      const off = await d.app.inject({ method: 'PUT', url: `/admin/tenants/${tuned.id}/limits`,
        headers: admin, payload: { requestsPerSecond: 0 } });
      expect(off.json().overrides).toEqual({ burst: 6, requestsPerSecond: 0 });
      expect((await list(tuned)).statusCode).toBe(200);
      const cleared = await d.app.inject({ method: 'PUT',
        url: `/admin/tenants/${tuned.id}/limits`, headers: admin,
        payload: { requestsPerSecond: null, burst: null } });
      expect(cleared.json().overrides).toEqual({});
      const read = await d.app.inject({ url: `/admin/tenants/${tuned.id}/limits`,
        headers: admin });
      expect(read.json().effective).toEqual({ ...limits, statementTimeoutMillis: 30_000 });
      expectError(await d.app.inject({ method: 'PUT', url: `/admin/tenants/${tuned.id}/limits`,
        headers: admin, payload: { burst: 0 } }), 400, 'VALIDATION_FAILED');
      expectError(await d.app.inject({ method: 'PUT', url: '/admin/tenants/no-such/limits',
        headers: admin, payload: { burst: 5 } }), 404, 'TENANT_NOT_FOUND');
      const records = await d.tenancy.audit.list({ tenantId: tuned.id, action: 'tenant.limits' });
      expect(records.items.map((r) => r.outcome)).toEqual(['ok', 'ok', 'ok']);
    });
  });

  describe.skipIf(skipDriver(kind))(`statement timeout and page sizes over HTTP on ${kind}`,
    () => {
      const d = useApp(kind, {
        config: { server: { maxPageSize: 4 } },
        // A route that runs a slow statement in the tenant's session, as a store could.
        configure: (app, tenancy) => {
          app.get('/test/slow/:tenant', async (request) => {
            const { tenant } = request.params as { tenant: string };
            return tenancy.withTenant(tenant, async (t) => {
              await t.session.query('SELECT pg_sleep(0.6)');
              return { slept: true };
            });
          });
        },
      });
      let t: CreatedTenant;

      beforeAll(async () => {
        t = await createTenant(d.app, tenantName('pages'), 'schema');
        for (let i = 0; i < 5; i++) {
          await createTenant(d.app, tenantName(`filler${i}`), 'row');
          for (const url of ['/v1/conversations', '/v1/documents']) {
            const res = await d.app.inject({ method: 'POST', url, headers: bearer(t.secret),
              payload: url.endsWith('documents') ? { title: `d${i}`, text: 'x' }
                : { title: `c${i}` } });
            expect(res.statusCode).toBe(201);
          }
        }
      });

      it('answers a statement past the timeout with 503 STATEMENT_TIMEOUT', async () => {
        await d.tenancy.tenants.setLimits(t.id, { statementTimeoutMillis: 200 });
        expectError(await d.app.inject({ url: `/test/slow/${t.id}` }), 503, 'STATEMENT_TIMEOUT');
        await d.tenancy.tenants.setLimits(t.id, { statementTimeoutMillis: null });
        const res = await d.app.inject({ url: `/test/slow/${t.id}` });
        expect(res.json()).toEqual({ slept: true });
      });

      it('caps every list route at server.maxPageSize', async () => {
        for (const [url, headers] of [
          ['/v1/conversations', bearer(t.secret)], ['/v1/documents', bearer(t.secret)],
          ['/admin/tenants', admin], ['/admin/audit', admin],
        ] as const) {
          for (const limit of ['', '?limit=4', '?limit=1000']) {
            const res = await d.app.inject({ url: `${url}${limit}`, headers });
            expect(res.statusCode, `${url}${limit}`).toBe(200);
            const body = res.json() as { items: unknown[]; next: string | null };
            expect(body.items, `${url}${limit}`).toHaveLength(4);
            expect(body.next, `${url}${limit}`).not.toBeNull();
          }
          const res = await d.app.inject({ url: `${url}?limit=1001`, headers });
          expectError(res, 400, 'VALIDATION_FAILED');
        }
      });

      it('caps the library at 1000 a page and refuses more', async () => {
        const page = await d.tenancy.withTenant(t.id, (s) => s.documents.list({ limit: 1000 }));
        expect(page.items).toHaveLength(5);
        const lists: ((s: TenantScope) => Promise<unknown>)[] = [
          (s) => s.documents.list({ limit: 1001 }),
          (s) => s.conversations.list({ limit: 1001 }),
        ];
        for (const list of lists) {
          await expect(d.tenancy.withTenant(t.id, list)).rejects
            .toMatchObject({ code: 'VALIDATION_FAILED' });
        }
        // The audit log reads at most 1000 a page, whatever is asked.
        const records = await d.tenancy.audit.list({ limit: 5000 });
        expect(records.items.length).toBeGreaterThan(4);
        expect(records.items.length).toBeLessThanOrEqual(1000);
      });
    });
}
