// The vector routes: bulk adds all or nothing, search, embeddings per document, stable codes,
// and the tenant always the key's.
import { beforeAll, describe, expect, it } from 'vitest';
import { drivers } from '../support/drivers.ts';
import {
  bearer, createTenant, expectError, skipDriver, useApp, type CreatedTenant,
} from '../http/harness.ts';

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`vector routes on ${kind}`, () => {
    const h = useApp(kind);
    let one: CreatedTenant;
    let two: CreatedTenant;

    const post = (tenant: CreatedTenant, url: string, payload: unknown) =>
      h.app.inject({ method: 'POST', url, headers: bearer(tenant.secret), payload: payload as object });

    beforeAll(async () => {
      one = await createTenant(h.app, 'http-vec-one', 'row');
      two = await createTenant(h.app, 'http-vec-two', 'schema');
      for (const tenant of [one, two]) {
        const res = await post(tenant, '/v1/documents/bulk', { documents: [
          { id: 'a', title: `${tenant.id} a`, text: 'alpha', embedding: [1, 0] },
          { id: 'b', title: `${tenant.id} b`, text: 'beta', embedding: [0, 1],
            metadata: { tag: 'b' } },
          { id: 'c', title: `${tenant.id} c`, text: 'gamma' },
        ] });
        expect(res.statusCode, res.body).toBe(201);
        expect((res.json() as { items: { id: string }[] }).items.map((doc) => doc.id))
          .toEqual(['a', 'b', 'c']);
      }
    });

    it('searches the key\'s tenant', async () => {
      const res = await post(one, '/v1/documents/search', { vector: [1, 0.2], k: 2 });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json() as { items: Record<string, unknown>[] };
      expect(body.items.map((hit) => [hit.id, hit.title, hit.text])).toEqual([
        ['a', 'http-vec-one a', 'alpha'], ['b', 'http-vec-one b', 'beta']]);
      expect(Object.keys(body.items[0] as object).sort())
        .toEqual(['distance', 'id', 'metadata', 'score', 'text', 'title']);
      const filtered = await post(two, '/v1/documents/search', {
        vector: [1, 0.2], k: 5, mode: 'mmr', filter: { tag: 'b' } });
      expect((filtered.json() as { items: { title: string }[] }).items.map((hit) => hit.title))
        .toEqual(['http-vec-two b']);
    });

    it('refuses bad vectors with stable codes, and stores nothing of a failed bulk', async () => {
      // 1e400 parses to Infinity in JSON.
      const inf = await h.app.inject({ method: 'POST', url: '/v1/documents/search',
        headers: { ...bearer(one.secret), 'content-type': 'application/json' },
        payload: '{"vector":[1e400,0]}' });
      expectError(inf, 400, 'EMBEDDING_NOT_FINITE');
      expectError(await post(one, '/v1/documents/search', { vector: [1, 0, 0] }), 400,
        'EMBEDDING_DIMENSION_MISMATCH');
      expectError(await post(one, '/v1/documents/search', { vector: [0, 0] }), 400,
        'EMBEDDING_ZERO');
      expectError(await post(one, '/v1/documents/search', { vector: [1, 0], mode: 'dot' }), 400,
        'VALIDATION_FAILED');
      expectError(await post(one, '/v1/documents/bulk', { documents: [
        { id: 'x1', title: 'x1', text: '', embedding: [1, 1] },
        { id: 'x2', title: 'x2', text: '', embedding: [1, 1, 1] },
      ] }), 400, 'EMBEDDING_DIMENSION_MISMATCH');
      const missing = await h.app.inject({ method: 'GET', url: '/v1/documents/x1',
        headers: bearer(one.secret) });
      expectError(missing, 404, 'NOT_FOUND');
    });

    it('sets and removes one document\'s embedding, 404 for another tenant\'s id', async () => {
      const put = (tenant: CreatedTenant, id: string, embedding: number[]) => h.app.inject({
        method: 'PUT', url: `/v1/documents/${id}/embedding`, headers: bearer(tenant.secret),
        payload: { embedding } });
      expect((await put(one, 'c', [0.6, 0.8])).statusCode).toBe(204);
      const top = await post(one, '/v1/documents/search', { vector: [0.6, 0.8], k: 1 });
      expect((top.json() as { items: { id: string }[] }).items[0]?.id).toBe('c');
      expectError(await put(one, 'nobody', [1, 0]), 404, 'NOT_FOUND');
      const del = await h.app.inject({ method: 'DELETE', url: '/v1/documents/c/embedding',
        headers: bearer(one.secret) });
      expect(del.statusCode).toBe(204);
      const again = await h.app.inject({ method: 'DELETE', url: '/v1/documents/c/embedding',
        headers: bearer(one.secret) });
      expectError(again, 404, 'NOT_FOUND');
      // Tenant two's `c` never had an embedding and tenant one's removal did not touch two.
      const twoTop = await post(two, '/v1/documents/search', { vector: [0.6, 0.8], k: 3 });
      expect((twoTop.json() as { items: { id: string }[] }).items.map((hit) => hit.id))
        .toEqual(['b', 'a']);
    });
  });
}
