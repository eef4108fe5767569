// Admin routes, the admin token, and the service's edges: health, OpenAPI, 404, 413, 500, ids.
import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp, bodyLimit } from '../../src/http/app.ts';
import { drivers, isolations, tenantName } from '../support/drivers.ts';
import {
  admin, adminToken, bearer, createTenant, expectError, skipDriver, useApp,
} from './harness.ts';

const internalDetail = 'internal-detail-that-must-stay-inside';

// Every admin route, with a path that would otherwise be valid.
const adminRoutes = [
  ['POST', '/admin/tenants'], ['GET', '/admin/tenants'], ['GET', '/admin/tenants/acme-co'],
  ['POST', '/admin/tenants/acme-co/suspend'], ['POST', '/admin/tenants/acme-co/resume'],
  ['DELETE', '/admin/tenants/acme-co'], ['POST', '/admin/tenants/acme-co/keys'],
  ['GET', '/admin/tenants/acme-co/keys'],
  ['DELETE', '/admin/tenants/acme-co/keys/0123456789abcdef'],
  ['GET', '/admin/audit'], ['GET', '/admin/doctor'], ['GET', '/admin/tenants/acme-co/limits'],
  ['PUT', '/admin/tenants/acme-co/limits'], ['GET', '/admin/tenants/acme-co/encryption'],
  ['POST', '/admin/tenants/acme-co/encryption/rotate'],
  ['POST', '/admin/tenants/acme-co/encryption/reencrypt'],
  ['POST', '/admin/tenants/acme-co/encryption/retire'], ['POST', '/admin/encryption/rotate-root'],
  ['POST', '/admin/tenants/acme-co/shred'], ['GET', '/admin/residency'],
  ['POST', '/admin/tenants/acme-co/move'], ['GET', '/admin/tenants/acme-co/backups'],
  ['POST', '/admin/tenants/acme-co/backups'], ['POST', '/admin/tenants/acme-co/backups/prune'],
  ['POST', '/admin/tenants/acme-co/backups/0123456789abcdef/verify'],
  ['POST', '/admin/tenants/acme-co/backups/0123456789abcdef/restore'],
  ['POST', '/admin/tenants/acme-co/backups/0123456789abcdef/clone'],
  ['GET', '/admin/operations/op-0123456789abcdef01234567'],
] as const;

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`admin API and service edges on ${kind}`, () => {
    const d = useApp(kind, {
      configure: (app) => {
        app.get('/boom', async () => {
          throw new Error(internalDetail);
        });
      },
    });
    let closedAdmin: FastifyInstance | undefined;
    afterAll(async () => {
      await closedAdmin?.close();
    });

    it('answers /healthz and an OpenAPI document of every route', async () => {
      const health = await d.app.inject({ url: '/healthz' });
      expect(health.statusCode).toBe(200);
      expect(health.json()).toEqual({ status: 'ok' });

      const doc = (await d.app.inject({ url: '/openapi.json' })).json();
      expect(doc.openapi).toBe('3.0.3');
      expect(Object.keys(doc.paths).sort()).toEqual([
        // The audit log, the isolation doctor and per-tenant limits.
        '/admin/audit', '/admin/doctor',
        // Encryption: the root key, and each tenant's keys, re-encryption and shredding.
        '/admin/encryption/rotate-root',
        // Long operations started with Prefer: respond-async.
        '/admin/operations/{operationId}',
        // Where tenants' data lives, and moving a tenant to another region.
        '/admin/residency',
        '/admin/tenants', '/admin/tenants/{id}',
        // A tenant's backups: create, list, verify, restore, clone, prune.
        '/admin/tenants/{id}/backups', '/admin/tenants/{id}/backups/prune',
        '/admin/tenants/{id}/backups/{backupId}/clone',
        '/admin/tenants/{id}/backups/{backupId}/restore',
        '/admin/tenants/{id}/backups/{backupId}/verify', '/admin/tenants/{id}/encryption',
        '/admin/tenants/{id}/encryption/reencrypt', '/admin/tenants/{id}/encryption/retire',
        '/admin/tenants/{id}/encryption/rotate', '/admin/tenants/{id}/keys',
        '/admin/tenants/{id}/keys/{keyId}', '/admin/tenants/{id}/limits',
        '/admin/tenants/{id}/move', '/admin/tenants/{id}/resume', '/admin/tenants/{id}/shred',
        '/admin/tenants/{id}/suspend', '/v1/conversations', '/v1/conversations/{id}',
        '/v1/conversations/{id}/messages', '/v1/documents',
        // Documents in bulk, vector search and each document's embedding.
        '/v1/documents/bulk', '/v1/documents/bulk-delete', '/v1/documents/search',
        '/v1/documents/{id}', '/v1/documents/{id}/embedding',
      ]);
      // Every admin path sits behind the admin token, every /v1 path behind an API key.
      for (const [path, methods] of Object.entries(doc.paths as Record<string,
        Record<string, { security?: unknown }>>)) {
        const expected = path.startsWith('/admin/') ? [{ adminToken: [] }] : [{ apiKey: [] }];
        for (const [method, operation] of Object.entries(methods)) {
          expect({ path, method, security: operation.security })
            .toEqual({ path, method, security: expected });
        }
      }
      const create = doc.paths['/v1/conversations'].post;
      const body = create.requestBody.content['application/json'].schema;
      expect(body.required).toEqual(['title']);
      expect(body.additionalProperties).toBe(false);
      expect(body.properties.messages.items.properties.role.enum)
        .toEqual(['system', 'user', 'assistant', 'tool']);
      expect(create.security).toEqual([{ apiKey: [] }]);
      expect(Object.keys(create.responses)).toEqual(['201', '4XX', '5XX']);
      const list = doc.paths['/v1/conversations'].get.parameters
        .map((p: { name: string; in: string }) => `${p.in}:${p.name}`);
      expect(list).toEqual(['query:limit', 'query:after']);
      expect(doc.paths['/admin/tenants'].post.security).toEqual([{ adminToken: [] }]);
    });

    it('answers unknown routes with 404 NOT_FOUND', async () => {
      for (const [method, url] of [['GET', '/nope'], ['POST', '/v1/nope'], ['GET', '/admin/nope'],
        ['PUT', '/v1/conversations'], ['GET', '/v1/conversations/a/b/c']] as const) {
        expectError(await d.app.inject({ method, url }), 404, 'NOT_FOUND');
      }
    });

    it('refuses every admin route without the right admin token', async () => {
      for (const authorization of [undefined, 'Bearer wrong-token-of-some-length',
        `Bearer ${adminToken}x`, `Bearer ${adminToken.slice(0, -1)}`, `Basic ${adminToken}`,
        adminToken]) {
        for (const [method, url] of adminRoutes) {
          const headers = authorization === undefined ? {} : { authorization };
          expectError(await d.app.inject({ method, url, headers, payload: method === 'POST'
            ? {} : undefined }), 401, 'UNAUTHENTICATED');
        }
      }
      const list = await d.app.inject({ url: '/admin/tenants', headers: admin });
      expect(list.statusCode).toBe(200);
    });

    it('closes every admin route when no admin token is configured', async () => {
      closedAdmin = buildApp(d.tenancy, { logger: false });
      for (const authorization of [undefined, `Bearer ${adminToken}`, 'Bearer ']) {
        for (const [method, url] of adminRoutes) {
          const headers = authorization === undefined ? {} : { authorization };
          expectError(await closedAdmin.inject({ method, url, headers }), 401, 'UNAUTHENTICATED');
        }
      }
    });

    it('creates, lists, reads, suspends and deletes tenants', async () => {
      const made = [];
      for (const isolation of isolations) {
        made.push(await createTenant(d.app, tenantName(`adm-${isolation}`), isolation));
      }
      const ids = made.map((t) => t.id).sort();
      const one = await d.app.inject({ url: `/admin/tenants/${ids[0]}`, headers: admin });
      expect(one.json()).toMatchObject({ id: ids[0], status: 'active', region: 'local' });

      const pages: string[][] = [];
      let after = '';
      for (;;) {
        const res = await d.app.inject({ url: `/admin/tenants?limit=2${after}`, headers: admin });
        const page = res.json() as { items: { id: string }[]; next: string | null };
        pages.push(page.items.map((t) => t.id));
        if (page.next === null) break;
        after = `&after=${page.next}`;
      }
      expect(pages.flat().filter((id) => ids.includes(id))).toEqual(ids);
      expect(pages.every((page) => page.length <= 2)).toBe(true);

      await d.app.inject({ method: 'POST', url: `/admin/tenants/${ids[1]}/suspend`,
        headers: admin });
      const suspended = await d.app.inject({ url: '/admin/tenants?status=suspended',
        headers: admin });
      expect(suspended.json().items.map((t: { id: string }) => t.id)).toEqual([ids[1]]);
      const elsewhere = await d.app.inject({ url: '/admin/tenants?region=mars', headers: admin });
      expect(elsewhere.json()).toEqual({ items: [], next: null });

      const victim = made.find((t) => t.id === ids[2]);
      const del = await d.app.inject({ method: 'DELETE', url: `/admin/tenants/${ids[2]}`,
        headers: admin });
      expect(del.statusCode).toBe(200);
      expect(del.json()).toMatchObject({ id: ids[2], status: 'deleted' });
      expectError(await d.app.inject({ url: '/v1/conversations',
        headers: bearer(victim?.secret ?? '') }), 401, 'UNAUTHENTICATED');
      const again = await d.app.inject({ method: 'POST', url: '/admin/tenants', headers: admin,
        payload: { id: ids[2] } });
      expectError(again, 409, 'TENANT_EXISTS');
    });

    it('refuses bad tenant input with stable codes that quote nothing', async () => {
      const cases = [
        [{ id: 'Bad_Id' }, 400, 'TENANT_ID_INVALID'],
        [{ id: 'ok-tenant-id', region: 'moon-base' }, 400, 'VALIDATION_FAILED'],
        [{ id: 'ok-tenant-id', isolation: 'moon-base' }, 400, 'VALIDATION_FAILED'],
        [{ id: 'ok-tenant-id', extra: 'moon-base' }, 400, 'VALIDATION_FAILED'],
        [{}, 400, 'VALIDATION_FAILED'],
      ] as const;
      for (const [payload, status, code] of cases) {
        const res = await d.app.inject({ method: 'POST', url: '/admin/tenants', headers: admin,
          payload });
        const message = expectError(res, status, code);
        expect(message).not.toMatch(/Bad_Id|moon-base/);
      }
      expectError(await d.app.inject({ url: '/admin/tenants/no-such-tenant', headers: admin }),
        404, 'TENANT_NOT_FOUND');
      expectError(await d.app.inject({ url: '/admin/tenants/no-such-tenant/keys',
        headers: admin }), 404, 'TENANT_NOT_FOUND');
      expectError(await d.app.inject({ method: 'POST', url: '/admin/tenants/no-such-tenant/keys',
        headers: admin }), 404, 'TENANT_NOT_FOUND');
      expectError(await d.app.inject({ url: '/admin/tenants/NOT_A_SLUG', headers: admin }),
        400, 'TENANT_ID_INVALID');
    });

    it('keeps a sane x-request-id and replaces any other', async () => {
      const kept = await d.app.inject({ url: '/healthz',
        headers: { 'x-request-id': 'abc_DEF-123' } });
      expect(kept.headers['x-request-id']).toBe('abc_DEF-123');
      for (const bad of ['a'.repeat(65), 'has space', 'semi;colon', '']) {
        const res = await d.app.inject({ url: '/nope', headers: { 'x-request-id': bad } });
        expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
        expect(res.json().error.requestId).toBe(res.headers['x-request-id']);
      }
      const unauth = await d.app.inject({ url: '/v1/conversations',
        headers: { 'x-request-id': 'trace-1' } });
      expect(unauth.json().error.requestId).toBe('trace-1');
    });

    it('answers an unexpected failure with 500 INTERNAL and nothing of its insides', async () => {
      const res = await d.app.inject({ url: '/boom' });
      expect(expectError(res, 500, 'INTERNAL')).toBe('internal error');
      expect(res.body).not.toContain(internalDetail);
      expect(res.body).not.toMatch(/\bat .*\.ts/);
    });

    it('accepts a 9 MB document and refuses a body over the limit with 413', async () => {
      const t = await createTenant(d.app, tenantName('big'), 'row');
      const text = 'Lorem ipsum dolor sit amet. '.repeat(340_000).slice(0, 9_500_000);
      const post = await d.app.inject({ method: 'POST', url: '/v1/documents',
        headers: bearer(t.secret), payload: { id: 'big', title: 'Big', text } });
      expect(post.statusCode).toBe(201);
      const get = await d.app.inject({ url: '/v1/documents/big', headers: bearer(t.secret) });
      expect(get.json().text).toBe(text);

      const tooBig = JSON.stringify({ title: 'Too big', text: 'x'.repeat(bodyLimit) });
      const res = await d.app.inject({ method: 'POST', url: '/v1/documents', payload: tooBig,
        headers: { ...bearer(t.secret), 'content-type': 'application/json' } });
      expectError(res, 413, 'PAYLOAD_TOO_LARGE');
    });
  });
}
