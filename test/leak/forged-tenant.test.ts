// Leak kit over HTTP: a tenant named anywhere a client controls never replaces the key's tenant,
// and another tenant's ids answer exactly like random ones, in every isolation on both drivers.
import type { LightMyRequestResponse } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Isolation } from '../../src/config/schema.ts';
import { drivers, isolations } from '../support/drivers.ts';
import {
  bearer, createTenant, randomId, skipDriver, useApp, withoutRequestId, type CreatedTenant,
} from '../http/harness.ts';

interface Owned extends CreatedTenant {
  documentId: string;
  conversationId: string;
  externalRef: string;
}

type Method = 'GET' | 'PATCH' | 'DELETE' | 'POST' | 'PUT';
type Probe = readonly [Method, (id: string) => string, unknown];

// Every route that takes an object id, or finds objects by a value the client names.
const probes: readonly Probe[] = [
  ['GET', (id) => `/v1/documents/${id}`, undefined],
  ['PATCH', (id) => `/v1/documents/${id}`, { title: 'taken over' }],
  ['DELETE', (id) => `/v1/documents/${id}`, undefined],
  ['PUT', (id) => `/v1/documents/${id}/embedding`, { embedding: [1, 0, 0] }],
  ['DELETE', (id) => `/v1/documents/${id}/embedding`, undefined],
  ['GET', (id) => `/v1/conversations/${id}`, undefined],
  ['PATCH', (id) => `/v1/conversations/${id}`, { title: 'taken over' }],
  ['POST', (id) => `/v1/conversations/${id}/messages`, { role: 'user', content: 'injected' }],
  ['DELETE', (id) => `/v1/conversations/${id}`, undefined],
  // List filters: a cursor and a reference of the other tenant find what random ones find.
  ['GET', (id) => `/v1/documents?limit=50&after=${id}`, undefined],
  ['GET', (id) => `/v1/conversations?limit=50&after=${id}`, undefined],
];

/** Every place a client could name a tenant: headers, host, query and body fields. */
function forgedHeaders(secret: string, victim: string): Record<string, string> {
  return {
    ...bearer(secret), 'x-tenant-id': victim, 'tenant-id': victim, 'x-tenant': victim,
    host: `${victim}.tenancy.test`, 'x-forwarded-host': `${victim}.tenancy.test`,
    forwarded: `host=${victim}.tenancy.test`,
  };
}

function forgedQuery(victim: string): string {
  return `tenant=${victim}&tenantId=${victim}&tenant_id=${victim}`;
}

function withQuery(url: string, query: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${query}`;
}

/** Status, content type and body with the request id blanked: what a client can compare. */
function answerOf(res: LightMyRequestResponse): string {
  return `${res.statusCode} ${String(res.headers['content-type'])} ${withoutRequestId(res)}`;
}

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`forged tenants over HTTP on ${kind}`, () => {
    const d = useApp(kind);
    const readers = new Map<Isolation, Owned>();
    const victims = new Map<Isolation, Owned>();

    const make = async (id: string, isolation: Isolation): Promise<Owned> => {
      const t = await createTenant(d.app, id, isolation);
      const owned = { ...t, documentId: randomId('doc'), conversationId: randomId('conv'),
        externalRef: randomId('ref') };
      for (const [url, payload] of [
        ['/v1/documents', { id: owned.documentId, title: `private ${id}`, text: `text of ${id}`,
          externalRef: owned.externalRef }],
        ['/v1/documents', { id: 'own-doc', title: `own ${id}`, text: id }],
        ['/v1/conversations', { id: owned.conversationId, title: `private ${id}`,
          messages: [{ role: 'user', content: `secret of ${id}` }] }],
        ['/v1/conversations', { id: 'own-conv', title: `own ${id}` }],
      ] as const) {
        const res = await d.app.inject({ method: 'POST', url, payload, headers: bearer(t.secret) });
        expect(res.statusCode, res.body).toBe(201);
      }
      const embedding = await d.app.inject({ method: 'PUT', headers: bearer(t.secret),
        url: `/v1/documents/${owned.documentId}/embedding`, payload: { embedding: [0, 1, 0] } });
      expect(embedding.statusCode, embedding.body).toBeLessThan(300);
      return owned;
    };

    /** What a tenant holds, read with its own key and no forged parts. */
    const holdings = async (t: Owned): Promise<string[]> => {
      const out: string[] = [];
      for (const url of ['/v1/documents?limit=100', '/v1/conversations?limit=100']) {
        const res = await d.app.inject({ url, headers: bearer(t.secret) });
        out.push(...(res.json() as { items: Array<{ id: string; title: string }> }).items
          .map((item) => `${item.id}=${item.title}`));
      }
      const doc = await d.app.inject({ url: `/v1/documents/${t.documentId}`,
        headers: bearer(t.secret) });
      out.push(`text=${String((doc.json() as { text?: string }).text)}`);
      const conv = await d.app.inject({ url: `/v1/conversations/${t.conversationId}`,
        headers: bearer(t.secret) });
      out.push(...(conv.json() as { messages: Array<{ content: string }> }).messages
        .map((m) => `message=${m.content}`));
      return out.sort();
    };

    const expected = (t: Owned): string[] => [
      `${t.documentId}=private ${t.id}`, `own-doc=own ${t.id}`,
      `${t.conversationId}=private ${t.id}`, `own-conv=own ${t.id}`,
      `text=text of ${t.id}`, `message=secret of ${t.id}`,
    ].sort();

    beforeAll(async () => {
      for (const isolation of isolations) {
        readers.set(isolation, await make(`fr${isolation[0]}-reader`, isolation));
        victims.set(isolation, await make(`fr${isolation[0]}-victim`, isolation));
      }
    });

    for (const isolation of isolations) {
      it(`${isolation}: another tenant's ids answer exactly like random ids, forged or not`,
        async () => {
          const reader = readers.get(isolation) as Owned;
          for (const victim of victims.values()) {
            for (const [method, url, payload] of probes) {
              const conv = url('x').includes('conversations');
              const foreignId = conv ? victim.conversationId : victim.documentId;
              // Unknown anywhere, and no id of the reader's sorts between the two, so a cursor
              // made of either selects the same page.
              const randomOne = `${foreignId}x`;
              for (const forged of [false, true]) {
                const send = (id: string) => d.app.inject({
                  method, payload: payload as Record<string, unknown> | undefined,
                  url: forged ? withQuery(url(id), forgedQuery(victim.id)) : url(id),
                  headers: forged ? forgedHeaders(reader.secret, victim.id)
                    : bearer(reader.secret),
                });
                const foreign = await send(foreignId);
                const unknown = await send(randomOne);
                expect(answerOf(foreign), `${method} ${url(':id')} forged=${forged}`)
                  .toBe(answerOf(unknown));
              }
            }
            // A reference is a filter value: the other tenant's answers like a random one.
            const byRef = async (ref: string) => answerOf(await d.app.inject({
              url: `/v1/documents?externalRef=${ref}`, headers: bearer(reader.secret) }));
            expect(await byRef(victim.externalRef)).toBe(await byRef(randomId('ref')));
            // Bulk delete: per id the same outcome; the victim's document stays.
            const bulk = async (ids: string[]) => (await d.app.inject({
              method: 'POST', url: '/v1/documents/bulk-delete', headers: bearer(reader.secret),
              payload: { ids } })).json() as { items: Array<{ status: string }> };
            const foreignBulk = await bulk([victim.documentId]);
            const randomBulk = await bulk([randomId('doc')]);
            expect(foreignBulk.items.map((i) => i.status)).toEqual(['not_found']);
            expect(randomBulk.items.map((i) => i.status)).toEqual(['not_found']);
          }
          for (const t of [...readers.values(), ...victims.values()]) {
            expect(await holdings(t)).toEqual(expected(t));
          }
        });

      it(`${isolation}: a tenant named in a header, the Host, the query, the path or the body ` +
        "never replaces the key's tenant", async () => {
        const reader = readers.get(isolation) as Owned;
        for (const victim of victims.values()) {
          const headers = forgedHeaders(reader.secret, victim.id);
          const list = await d.app.inject({ headers,
            url: withQuery('/v1/documents?limit=100', forgedQuery(victim.id)) });
          expect(list.statusCode).toBe(200);
          expect((list.json() as { items: Array<{ id: string }> }).items.map((i) => i.id).sort())
            .toEqual([reader.documentId, 'own-doc'].sort());
          // The tenant in the path: no route takes one, so it finds nothing of the victim's.
          for (const url of [`/v1/tenants/${victim.id}/documents/${victim.documentId}`,
            `/${victim.id}/v1/documents/${victim.documentId}`,
            `/v1/documents/${victim.documentId}?tenant=${victim.id}`,
            `/v1/documents/..%2F${victim.id}%2F${victim.documentId}`]) {
            const res = await d.app.inject({ url, headers });
            expect(res.statusCode, url).toBe(404);
            expect(res.body).not.toContain(`text of ${victim.id}`);
          }
          // A body naming the tenant is refused by the strict schema or lands in the reader's.
          const byBody = await d.app.inject({ method: 'POST', headers,
            url: withQuery('/v1/documents', forgedQuery(victim.id)),
            payload: { id: 'planted', title: 'planted', text: 'planted', tenantId: victim.id } });
          expect(byBody.statusCode).toBe(400);
          const byMetadata = await d.app.inject({ method: 'POST', headers,
            url: withQuery('/v1/documents', forgedQuery(victim.id)),
            payload: { id: 'planted', title: 'planted', text: 'planted',
              metadata: { tenantId: victim.id } } });
          expect(byMetadata.statusCode).toBe(201);
          const mine = await d.app.inject({ url: '/v1/documents/planted',
            headers: bearer(reader.secret) });
          expect(mine.statusCode).toBe(200);
          const theirs = await d.app.inject({ url: '/v1/documents/planted',
            headers: bearer(victim.secret) });
          expect(theirs.statusCode).toBe(404);
          const removed = await d.app.inject({ method: 'DELETE', url: '/v1/documents/planted',
            headers: bearer(reader.secret) });
          expect(removed.statusCode).toBe(204);
        }
        for (const t of [...readers.values(), ...victims.values()]) {
          expect(await holdings(t)).toEqual(expected(t));
        }
      });
    }
  });
}
