// The tenant API end to end, per driver and isolation: conversations, documents, pages, keys.
import { beforeAll, describe, expect, it } from 'vitest';
import { drivers, isolations, tenantName } from '../support/drivers.ts';
import {
  admin, bearer, createTenant, expectError, skipDriver, useApp, type CreatedTenant,
} from './harness.ts';

const maxPageSize = 5;

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`tenant API on ${kind}`, () => {
    const d = useApp(kind, { config: { server: { maxPageSize } } });
    const tenants = new Map<string, CreatedTenant>();
    const tenant = (label: string): CreatedTenant => tenants.get(label) as CreatedTenant;

    beforeAll(async () => {
      for (const isolation of isolations) {
        tenants.set(isolation,
          await createTenant(d.app, tenantName(`api-${isolation}`), isolation));
        tenants.set(`pager-${isolation}`,
          await createTenant(d.app, tenantName(`pager-${isolation}`), isolation));
      }
    });

    for (const isolation of isolations) {
      describe(`${isolation} isolation`, () => {
        const as = () => bearer(tenant(isolation).secret);

        it('creates, reads, renames, extends and deletes a conversation', async () => {
          const post = await d.app.inject({
            method: 'POST', url: '/v1/conversations', headers: as(),
            payload: {
              id: 'conv-1', title: 'First', metadata: { source: 'test' },
              messages: [{ role: 'user', content: 'Hello' }, { role: 'assistant', content: 'Hi!' }],
            },
          });
          expect(post.statusCode, post.body).toBe(201);
          const created = post.json();
          expect(created).toMatchObject({ id: 'conv-1', title: 'First',
            metadata: { source: 'test' } });
          expect(created.messages.map((m: { position: number; role: string; content: string }) =>
            [m.position, m.role, m.content]))
            .toEqual([[0, 'user', 'Hello'], [1, 'assistant', 'Hi!']]);

          const get = await d.app.inject({ url: '/v1/conversations/conv-1', headers: as() });
          expect(get.statusCode).toBe(200);
          expect(get.json()).toEqual(created);

          const patch = await d.app.inject({
            method: 'PATCH', url: '/v1/conversations/conv-1', headers: as(),
            payload: { title: 'Renamed' },
          });
          expect(patch.statusCode).toBe(200);
          expect(patch.json()).toMatchObject({ id: 'conv-1', title: 'Renamed',
            metadata: { source: 'test' } });
          expect(patch.json().messages).toBeUndefined();

          const append = await d.app.inject({
            method: 'POST', url: '/v1/conversations/conv-1/messages', headers: as(),
            payload: { role: 'user', content: 'Again', ts: '2024-05-01T10:00:00Z' },
          });
          expect(append.statusCode, append.body).toBe(201);
          expect(append.json()).toMatchObject({ conversationId: 'conv-1', position: 2,
            role: 'user', content: 'Again', ts: '2024-05-01T10:00:00.000Z' });

          const after = (await d.app.inject({ url: '/v1/conversations/conv-1',
            headers: as() })).json();
          expect(after.title).toBe('Renamed');
          expect(after.messages.map((m: { content: string }) => m.content))
            .toEqual(['Hello', 'Hi!', 'Again']);

          const taken = await d.app.inject({ method: 'POST', url: '/v1/conversations',
            headers: as(), payload: { id: 'conv-1', title: 'Again' } });
          expectError(taken, 409, 'ID_TAKEN');

          const del = await d.app.inject({ method: 'DELETE', url: '/v1/conversations/conv-1',
            headers: as() });
          expect(del.statusCode).toBe(204);
          expect(del.body).toBe('');
          for (const [method, url, payload] of [
            ['GET', '/v1/conversations/conv-1', undefined],
            ['DELETE', '/v1/conversations/conv-1', undefined],
            ['PATCH', '/v1/conversations/conv-1', { title: 'x' }],
            ['POST', '/v1/conversations/conv-1/messages', { role: 'user', content: 'x' }],
          ] as const) {
            expectError(await d.app.inject({ method, url, headers: as(), payload }), 404,
              'NOT_FOUND');
          }
        });

        it('gives a conversation without an id a fresh one', async () => {
          const res = await d.app.inject({ method: 'POST', url: '/v1/conversations',
            headers: as(), payload: { title: 'No id' } });
          expect(res.statusCode).toBe(201);
          expect(res.json().id).toMatch(/^[0-9a-f-]{36}$/);
          expect(res.json().messages).toEqual([]);
        });

        it('creates, lists, reads, patches and deletes a document', async () => {
          const post = await d.app.inject({
            method: 'POST', url: '/v1/documents', headers: as(),
            payload: { id: 'doc-1', title: 'Manual', text: 'Chapter one.' },
          });
          expect(post.statusCode, post.body).toBe(201);
          expect(post.json()).toMatchObject({ id: 'doc-1', title: 'Manual', text: 'Chapter one.',
            metadata: {} });

          const list = await d.app.inject({ url: '/v1/documents', headers: as() });
          expect(list.statusCode).toBe(200);
          const summary = list.json().items.find((item: { id: string }) => item.id === 'doc-1');
          expect(summary).toMatchObject({ id: 'doc-1', title: 'Manual' });
          expect(summary.text).toBeUndefined();

          const patch = await d.app.inject({ method: 'PATCH', url: '/v1/documents/doc-1',
            headers: as(), payload: { text: 'Chapter two.', metadata: { v: 2 } } });
          expect(patch.statusCode).toBe(200);
          expect(patch.json()).toMatchObject({ title: 'Manual', text: 'Chapter two.',
            metadata: { v: 2 } });

          const get = await d.app.inject({ url: '/v1/documents/doc-1', headers: as() });
          expect(get.json()).toEqual(patch.json());

          const del = await d.app.inject({ method: 'DELETE', url: '/v1/documents/doc-1',
            headers: as() });
          expect(del.statusCode).toBe(204);
          expectError(await d.app.inject({ url: '/v1/documents/doc-1', headers: as() }), 404,
            'NOT_FOUND');
          expectError(await d.app.inject({ method: 'PATCH', url: '/v1/documents/doc-1',
            headers: as(), payload: { title: 'x' } }), 404, 'NOT_FOUND');
          expectError(await d.app.inject({ method: 'DELETE', url: '/v1/documents/doc-1',
            headers: as() }), 404, 'NOT_FOUND');
        });

        it('pages through conversations and documents with next, capped at maxPageSize',
          async () => {
            const pager = tenant(`pager-${isolation}`);
            const ids = Array.from({ length: 7 }, (_, i) => `item-${String(i).padStart(2, '0')}`);
            for (const id of ids) {
              for (const [url, payload] of [
                ['/v1/conversations', { id, title: `Conversation ${id}` }],
                ['/v1/documents', { id, title: `Document ${id}`, text: 'body' }],
              ] as const) {
                const res = await d.app.inject({ method: 'POST', url, payload,
                  headers: bearer(pager.secret) });
                expect(res.statusCode).toBe(201);
              }
            }
            for (const base of ['/v1/conversations', '/v1/documents']) {
              const seen: string[][] = [];
              let after: string | null = null;
              do {
                const query: string = after === null ? '?limit=3' : `?limit=3&after=${after}`;
                const res = await d.app.inject({ url: base + query,
                  headers: bearer(pager.secret) });
                expect(res.statusCode).toBe(200);
                const page = res.json() as { items: { id: string }[]; next: string | null };
                seen.push(page.items.map((item) => item.id));
                after = page.next;
                if (after !== null) expect(after).toBe(page.items.at(-1)?.id);
              } while (after !== null);
              expect(seen).toEqual([ids.slice(0, 3), ids.slice(3, 6), ids.slice(6)]);

              for (const query of ['', '?limit=50']) {
                const capped = await d.app.inject({ url: base + query,
                  headers: bearer(pager.secret) });
                expect(capped.json().items.map((item: { id: string }) => item.id))
                  .toEqual(ids.slice(0, maxPageSize));
                expect(capped.json().next).toBe(ids[maxPageSize - 1]);
              }
              for (const bad of ['limit=0', 'limit=abc', 'limit=1001', 'limit=2.5',
                'after=a%20b']) {
                const res = await d.app.inject({ url: `${base}?${bad}`,
                  headers: bearer(pager.secret) });
                expectError(res, 400, 'VALIDATION_FAILED');
              }
            }
          });

        it('answers 401 without a key, with a bad one and with a revoked one', async () => {
          const t = tenant(isolation);
          const url = '/v1/conversations';
          const wrongSecret = t.secret.slice(0, -1) + (t.secret.endsWith('A') ? 'B' : 'A');
          for (const authorization of [undefined, 'Bearer', 'Bearer nonsense', `Basic ${t.secret}`,
            `Bearer ${wrongSecret}`, `Bearer ${t.secret}x`, t.secret]) {
            const headers = authorization === undefined ? {} : { authorization };
            expectError(await d.app.inject({ url, headers }), 401, 'UNAUTHENTICATED');
          }

          const issued = await d.app.inject({ method: 'POST',
            url: `/admin/tenants/${t.id}/keys`, headers: admin });
          expect(issued.statusCode).toBe(201);
          const second = issued.json() as { keyId: string; secret: string; tenantId: string };
          expect(second.tenantId).toBe(t.id);
          expect((await d.app.inject({ url, headers: bearer(second.secret) })).statusCode)
            .toBe(200);

          const revoke = await d.app.inject({ method: 'DELETE',
            url: `/admin/tenants/${t.id}/keys/${second.keyId}`, headers: admin });
          expect(revoke.statusCode).toBe(204);
          expectError(await d.app.inject({ url, headers: bearer(second.secret) }), 401,
            'UNAUTHENTICATED');
          expectError(await d.app.inject({ method: 'DELETE',
            url: `/admin/tenants/${t.id}/keys/${second.keyId}`, headers: admin }), 404,
          'NOT_FOUND');

          const keys = await d.app.inject({ url: `/admin/tenants/${t.id}/keys`, headers: admin });
          const listed = keys.json().items as { keyId: string; revokedAt: string | null }[];
          expect(listed.map((k) => [k.keyId, k.revokedAt === null]))
            .toEqual([[t.keyId, true], [second.keyId, false]]);
          expect((await d.app.inject({ url, headers: bearer(t.secret) })).statusCode).toBe(200);
        });

        it('answers 403 TENANT_SUSPENDED while the tenant is suspended', async () => {
          const t = tenant(isolation);
          const suspend = await d.app.inject({ method: 'POST',
            url: `/admin/tenants/${t.id}/suspend`, headers: admin });
          expect(suspend.json().status).toBe('suspended');
          for (const [method, url, payload] of [
            ['GET', '/v1/conversations', undefined],
            ['GET', '/v1/documents/anything', undefined],
            ['POST', '/v1/conversations', { title: 'while suspended' }],
          ] as const) {
            expectError(await d.app.inject({ method, url, payload, headers: as() }), 403,
              'TENANT_SUSPENDED');
          }
          const resume = await d.app.inject({ method: 'POST',
            url: `/admin/tenants/${t.id}/resume`, headers: admin });
          expect(resume.json().status).toBe('active');
          expect((await d.app.inject({ url: '/v1/conversations', headers: as() })).statusCode)
            .toBe(200);
        });

        it('refuses bad bodies with VALIDATION_FAILED and never quotes their values',
          async () => {
            const long = 'Q'.repeat(1001);
            const cases: { url: string; method: 'POST' | 'PATCH'; payload: unknown;
              field?: string; contentType?: string }[] = [
              { method: 'POST', url: '/v1/conversations', payload: {}, field: 'title' },
              { method: 'POST', url: '/v1/conversations', payload: { title: long },
                field: 'title' },
              { method: 'POST', url: '/v1/conversations', payload: { title: 'x',
                messages: [{ role: 'robot', content: 'QQQ' }] }, field: 'messages.0.role' },
              { method: 'POST', url: '/v1/conversations', payload: { title: 'x', id: 'QQ Q' },
                field: 'id' },
              { method: 'POST', url: '/v1/conversations', payload: { title: 'x',
                metadata: { blob: 'Q'.repeat(17_000) } }, field: 'metadata' },
              { method: 'POST', url: '/v1/conversations', payload: [{ title: 'x' }] },
              { method: 'POST', url: '/v1/conversations', payload: { title: 'x', QQQ: 1,
                messages: [{ role: 'user', content: 'x', QQ: 2 }] }, field: 'messages.0' },
              { method: 'POST', url: '/v1/conversations', payload: '{"title": "QQQ', contentType:
                'application/json' },
              { method: 'POST', url: '/v1/conversations', payload: 'title=QQQ', contentType:
                'text/plain' },
              { method: 'PATCH', url: '/v1/conversations/any', payload: { title: '' },
                field: 'title' },
              { method: 'POST', url: '/v1/conversations/any/messages', payload: { role: 'user' },
                field: 'content' },
              { method: 'POST', url: '/v1/documents', payload: { title: 'x' }, field: 'text' },
              { method: 'PATCH', url: '/v1/documents/any', payload: { text: 5 }, field: 'text' },
            ];
            for (const c of cases) {
              const headers = { ...as(),
                ...(c.contentType === undefined ? {} : { 'content-type': c.contentType }) };
              const res = await d.app.inject({ method: c.method, url: c.url, headers,
                payload: c.payload as string });
              const message = expectError(res, 400, 'VALIDATION_FAILED');
              if (c.field !== undefined) expect(message).toContain(c.field);
              expect(message).not.toContain('QQ');
            }
          });
      });
    }
  });
}
