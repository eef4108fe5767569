// Cross-tenant leaks over HTTP: another tenant's ids look exactly like unknown ones, and nothing
// a client writes into a request (header, query, body) picks the tenant.
import { beforeAll, describe, expect, it } from 'vitest';
import { drivers, isolations, tenantName } from '../support/drivers.ts';
import {
  bearer, createTenant, expectError, randomId, skipDriver, useApp, withoutRequestId,
  type CreatedTenant,
} from './harness.ts';

// Every route that takes an object id, with a body where it needs one.
const probes = [
  ['GET', '/v1/conversations/:id', undefined],
  ['PATCH', '/v1/conversations/:id', { title: 'taken over' }],
  ['POST', '/v1/conversations/:id/messages', { role: 'user', content: 'injected' }],
  ['DELETE', '/v1/conversations/:id', undefined],
  ['GET', '/v1/documents/:id', undefined],
  ['PATCH', '/v1/documents/:id', { text: 'taken over' }],
  ['DELETE', '/v1/documents/:id', undefined],
] as const;

interface Owned extends CreatedTenant {
  conversationId: string;
  documentId: string;
}

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`cross-tenant access over HTTP on ${kind}`, () => {
    const d = useApp(kind);
    const tenants: Owned[] = [];

    beforeAll(async () => {
      for (const isolation of isolations) {
        const t = await createTenant(d.app, tenantName(`x-${isolation}`), isolation);
        const owned = { ...t, conversationId: randomId('conv'), documentId: randomId('doc') };
        for (const [url, payload] of [
          ['/v1/conversations', { id: owned.conversationId, title: `private ${t.id}`,
            messages: [{ role: 'user', content: `secret of ${t.id}` }] }],
          ['/v1/documents', { id: owned.documentId, title: `private ${t.id}`,
            text: `text of ${t.id}` }],
          // The same id in every tenant: each must only ever see its own.
          ['/v1/conversations', { id: 'shared-id', title: `shared of ${t.id}` }],
        ] as const) {
          const res = await d.app.inject({ method: 'POST', url, payload,
            headers: bearer(t.secret) });
          expect(res.statusCode, res.body).toBe(201);
        }
        tenants.push(owned);
      }
    });

    // What one tenant holds, read with its own key: unchanged by anything the others tried.
    async function expectIntact(t: Owned): Promise<void> {
      const conv = await d.app.inject({ url: `/v1/conversations/${t.conversationId}`,
        headers: bearer(t.secret) });
      expect(conv.statusCode).toBe(200);
      expect(conv.json().title).toBe(`private ${t.id}`);
      expect(conv.json().messages.map((m: { content: string }) => m.content))
        .toEqual([`secret of ${t.id}`]);
      const doc = await d.app.inject({ url: `/v1/documents/${t.documentId}`,
        headers: bearer(t.secret) });
      expect(doc.json()).toMatchObject({ title: `private ${t.id}`, text: `text of ${t.id}` });
    }

    it("answers another tenant's ids exactly like ids that exist nowhere", async () => {
      for (const reader of tenants) {
        for (const owner of tenants) {
          if (owner === reader) continue;
          for (const [method, route, payload] of probes) {
            const ownerId = route.includes('conversations') ? owner.conversationId
              : owner.documentId;
            const foreign = await d.app.inject({ method, payload, headers: bearer(reader.secret),
              url: route.replace(':id', ownerId) });
            const unknown = await d.app.inject({ method, payload, headers: bearer(reader.secret),
              url: route.replace(':id', randomId(route.includes('conv') ? 'conv' : 'doc')) });
            expectError(foreign, 404, 'NOT_FOUND');
            expect(withoutRequestId(foreign)).toBe(withoutRequestId(unknown));
            expect(foreign.headers['content-type']).toBe(unknown.headers['content-type']);
          }
        }
      }
      for (const t of tenants) await expectIntact(t);
    });

    it('keeps a shared id apart: each tenant reads, renames and deletes only its own', async () => {
      const [first, ...rest] = tenants as [Owned, ...Owned[]];
      const renamed = await d.app.inject({ method: 'PATCH', url: '/v1/conversations/shared-id',
        headers: bearer(first.secret), payload: { title: 'renamed by first' } });
      expect(renamed.json().title).toBe('renamed by first');
      for (const t of rest) {
        const own = await d.app.inject({ url: '/v1/conversations/shared-id',
          headers: bearer(t.secret) });
        expect(own.json().title).toBe(`shared of ${t.id}`);
      }
      const del = await d.app.inject({ method: 'DELETE', url: '/v1/conversations/shared-id',
        headers: bearer(first.secret) });
      expect(del.statusCode).toBe(204);
      for (const t of rest) {
        const own = await d.app.inject({ url: '/v1/conversations/shared-id',
          headers: bearer(t.secret) });
        expect(own.statusCode).toBe(200);
      }
    });

    it('never takes the tenant from a header, the query or the body', async () => {
      const [, reader, victim] = tenants as [Owned, Owned, Owned];
      const forged = { ...bearer(reader.secret), 'x-tenant-id': victim.id, 'tenant-id': victim.id,
        'x-tenant': victim.id };
      const byHeader = await d.app.inject({ url: `/v1/conversations/${victim.conversationId}`,
        headers: forged });
      expectError(byHeader, 404, 'NOT_FOUND');
      const byQuery = await d.app.inject({ headers: bearer(reader.secret),
        url: `/v1/conversations/${victim.conversationId}`
          + `?tenant=${victim.id}&tenantId=${victim.id}` });
      expectError(byQuery, 404, 'NOT_FOUND');

      const list = await d.app.inject({ url: `/v1/conversations?limit=50&tenant=${victim.id}`,
        headers: forged });
      expect(list.statusCode).toBe(200);
      const ids = list.json().items.map((c: { id: string }) => c.id).sort();
      expect(ids).toEqual([reader.conversationId, 'shared-id'].sort());

      const byBody = await d.app.inject({ method: 'POST', url: '/v1/conversations', headers: forged,
        payload: { id: 'planted', title: 'planted', tenantId: victim.id } });
      expectError(byBody, 400, 'VALIDATION_FAILED');
      const byMetadata = await d.app.inject({ method: 'POST', url: '/v1/conversations',
        headers: forged, payload: { id: 'planted', title: 'planted',
          metadata: { tenantId: victim.id, tenant: victim.id } } });
      expect(byMetadata.statusCode).toBe(201);
      const mine = await d.app.inject({ url: '/v1/conversations/planted',
        headers: bearer(reader.secret) });
      expect(mine.json().metadata).toEqual({ tenantId: victim.id, tenant: victim.id });
      expectError(await d.app.inject({ url: '/v1/conversations/planted',
        headers: bearer(victim.secret) }), 404, 'NOT_FOUND');
      const victimList = await d.app.inject({ url: '/v1/conversations?limit=50',
        headers: bearer(victim.secret) });
      expect(victimList.json().items.map((c: { id: string }) => c.id)).not.toContain('planted');
      await expectIntact(victim);
    });
  });
}
