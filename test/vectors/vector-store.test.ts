// Embeddings and search per driver and isolation: dimension rules, bad values, atomic bulk adds,
// every mode, filters, cascade on delete, and other tenants' vectors never in a result.
import { beforeAll, describe, expect, it } from 'vitest';
import { drivers, isolations } from '../support/drivers.ts';
import { expectCode, skipDriver, useDeployment } from '../core/harness.ts';

const modes = ['cosine', 'ip', 'l2', 'mmr'] as const;

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`document vectors on ${kind}`, () => {
    const d = useDeployment(kind);

    beforeAll(async () => {
      for (const isolation of isolations) {
        for (const prefix of ['vec', 'twin', 'cfg']) {
          await d.tenancy.tenants.create({ id: `${prefix}-${isolation}`, isolation });
        }
      }
    });

    describe.each(isolations)('in %s isolation', (isolation) => {
      const id = `vec-${isolation}`;
      const twin = `twin-${isolation}`;
      const docs = [
        { id: 'north', title: 'North', text: 'n', embedding: [1, 0, 0], metadata: { side: 'a' } },
        { id: 'north-east', title: 'NE', text: 'ne', embedding: [0.8, 0.6, 0] },
        { id: 'east', title: 'East', text: 'e', embedding: [0, 2, 0], metadata: { side: 'a' } },
        { id: 'up', title: 'Up', text: 'u', embedding: [0, 0, 3], metadata: { side: 'b' } },
      ];

      beforeAll(async () => {
        await d.tenancy.withTenant(id, (t) => t.vectors.addDocuments(docs));
        // The twin holds the same ids and vectors, and one vector closer to every query below.
        await d.tenancy.withTenant(twin, (t) => t.vectors.addDocuments([
          ...docs.map((doc) => ({ ...doc, title: `twin ${doc.title}`, text: 'twin' })),
          { id: 'twin-only', title: 'Twin only', text: 'twin', embedding: [1, 0.01, 0] },
        ]));
      });

      it('fixes the dimension on first use and refuses another', async () => {
        const settings = await d.tenancy.withTenant(id, (t) => t.vectors.settings());
        expect(settings).toEqual({ dimension: 3, metric: 'cosine' });
        const err = await expectCode(d.tenancy.withTenant(id, (t) => t.vectors.addDocuments([
          { title: 'four', text: '', embedding: [1, 2, 3, 4] }])), 'EMBEDDING_DIMENSION_MISMATCH');
        expect(err.status).toBe(400);
        expect(err.message).toContain('expected 3 components, got 4');
        await expectCode(d.tenancy.withTenant(id, (t) => t.vectors.search({ vector: [1, 0] })),
          'EMBEDDING_DIMENSION_MISMATCH');
        await expectCode(d.tenancy.withTenant(id, (t) => t.vectors.configure({ dimension: 8 })),
          'EMBEDDING_DIMENSION_MISMATCH');
      });

      it('refuses NaN, infinities, float32 overflow, non-numbers and zero vectors', async () => {
        for (const bad of [[1, Number.NaN, 0], [Infinity, 0, 0], [0, -Infinity, 1], [1e39, 0, 0],
          [1, '2', 3], [1, null, 0]]) {
          const err = await expectCode(d.tenancy.withTenant(id, (t) => t.vectors.addDocuments([
            { title: 'bad', text: '', embedding: bad }])), 'EMBEDDING_NOT_FINITE');
          expect(err.message).toMatch(/component \d is not a finite number/);
          await expectCode(d.tenancy.withTenant(id, (t) => t.vectors.search({ vector: bad })),
            'EMBEDDING_NOT_FINITE');
        }
        await expectCode(d.tenancy.withTenant(id, (t) => t.vectors.setEmbedding('north',
          [0, 0, 0])), 'EMBEDDING_ZERO');
      });

      it('adds a bulk request all or nothing', async () => {
        const before = await d.tenancy.withTenant(id, (t) => t.documents.list({ limit: 100 }));
        // The last item's vector is bad: the first two must not stay behind.
        await expectCode(d.tenancy.withTenant(id, (t) => t.vectors.addDocuments([
          { id: 'bulk-1', title: 'b1', text: '', embedding: [1, 1, 1] },
          { id: 'bulk-2', title: 'b2', text: '' },
          { id: 'bulk-3', title: 'b3', text: '', embedding: [1, 1] },
        ])), 'EMBEDDING_DIMENSION_MISMATCH');
        // A taken id fails in the database, after other rows were written: all rolled back.
        await expectCode(d.tenancy.withTenant(id, (t) => t.vectors.addDocuments([
          { id: 'bulk-1', title: 'b1', text: '', embedding: [1, 1, 1] },
          { id: 'north', title: 'again', text: '', embedding: [1, 1, 1] },
        ])), 'ID_TAKEN');
        const after = await d.tenancy.withTenant(id, (t) => t.documents.list({ limit: 100 }));
        expect(after.items.map((doc) => doc.id)).toEqual(before.items.map((doc) => doc.id));
        expect(after.items.map((doc) => doc.id)).toEqual(['east', 'north', 'north-east', 'up']);
      });

      it('ranks by cosine, inner product and L2 with the right scores', async () => {
        const search = (mode: typeof modes[number]) => d.tenancy.withTenant(id,
          (t) => t.vectors.search({ vector: [1, 0.1, 0], k: 4, mode }));
        const cosine = await search('cosine');
        expect(cosine.map((hit) => hit.id)).toEqual(['north', 'north-east', 'east', 'up']);
        expect(cosine[0]?.score).toBeCloseTo(1 / Math.hypot(1, 0.1), 5);
        expect(cosine[0]).toMatchObject({ title: 'North', text: 'n', metadata: { side: 'a' } });
        const ip = await search('ip');
        expect(ip.map((hit) => [hit.id, Number(hit.score.toFixed(4))])).toEqual([
          ['north', 1], ['north-east', 0.86], ['east', 0.2], ['up', 0]]);
        const l2 = await search('l2');
        expect(l2.map((hit) => hit.id)).toEqual(['north', 'north-east', 'east', 'up']);
        expect(l2[0]?.distance).toBeCloseTo(0.1, 5);
        expect(l2[0]?.score).toBeCloseTo(-0.1, 5);
      });

      it('picks diverse results with MMR', async () => {
        const pick = (lambda: number) => d.tenancy.withTenant(id, (t) => t.vectors.search({
          vector: [1, 0.1, 0], k: 2, mode: 'mmr', lambda, fetchK: 4 }));
        expect((await pick(1)).map((hit) => hit.id)).toEqual(['north', 'north-east']);
        // With diversity weighed in, the near copy of `north` loses to an orthogonal vector.
        expect((await pick(0.3)).map((hit) => hit.id)).toEqual(['north', 'east']);
      });

      it('filters by metadata containment', async () => {
        for (const mode of modes) {
          const hits = await d.tenancy.withTenant(id, (t) => t.vectors.search({
            vector: [1, 0.1, 0], k: 4, mode, filter: { side: 'a' } }));
          expect(hits.map((hit) => hit.id).sort()).toEqual(['east', 'north']);
        }
      });

      it.each(modes)('never returns another tenant\'s near-duplicates (%s, any filter, path)',
        async (mode) => {
          for (const exact of [false, true]) {
            for (const filter of [undefined, {}, { side: 'a' }]) {
              const hits = await d.tenancy.withTenant(id, (t) => t.vectors.search({
                vector: [1, 0.01, 0], k: 10, mode, exact, filter }));
              // All of its own matching documents, and nothing else.
              expect(hits.map((hit) => hit.id).sort()).toEqual(filter?.side === 'a'
                ? ['east', 'north'] : ['east', 'north', 'north-east', 'up']);
              expect(hits.every((hit) => !hit.text.startsWith('twin'))).toBe(true);
              expect(hits.map((hit) => hit.id)).not.toContain('twin-only');
            }
          }
          // The twin itself finds its planted vector first, in the same mode.
          const theirs = await d.tenancy.withTenant(twin, (t) => t.vectors.search({
            vector: [1, 0.01, 0], k: 2, mode, fetchK: 5 }));
          expect(theirs[0]?.id).toBe('twin-only');
          expect(theirs.every((hit) => hit.text === 'twin')).toBe(true);
        });

      it('drops an embedding with its document, and keeps the document without one', async () => {
        await d.tenancy.withTenant(id, (t) => t.vectors.addDocuments([
          { id: 'gone', title: 'Gone', text: '', embedding: [1, 0.1, 0] },
          { id: 'kept', title: 'Kept', text: '', embedding: [1, 0.1, 0] },
        ]));
        const top = async () => (await d.tenancy.withTenant(id, (t) => t.vectors.search({
          vector: [1, 0.1, 0], k: 2 }))).map((hit) => hit.id).sort();
        expect(await top()).toEqual(['gone', 'kept']);
        await d.tenancy.withTenant(id, (t) => t.documents.delete('gone'));
        expect(await d.tenancy.withTenant(id, (t) => t.vectors.deleteEmbedding('kept')))
          .toBe(true);
        expect(await top()).toEqual(['north', 'north-east']);
        expect(await d.tenancy.withTenant(id, (t) => t.documents.get('kept'))).toBeDefined();
        expect(await d.tenancy.withTenant(id, (t) => t.vectors.setEmbedding('gone', [1, 0, 0])))
          .toBe(false);
        // The twin's own `gone` never existed; its `north` still has its vector.
        expect(await d.tenancy.withTenant(twin, (t) => t.vectors.deleteEmbedding('gone')))
          .toBe(false);
      });

      it('refuses a stored row of another dimension even from raw SQL', async () => {
        await expectCode(d.tenancy.withTenant(id, (t) => t.session.query(
          `INSERT INTO ${t.session.table('document_embeddings')}
             (document_id, dimension, embedding, norm) VALUES ('up', 2, '{1,1}', 1)
           ON CONFLICT (tenant_id, document_id) DO UPDATE SET dimension = 2,
             embedding = '{1,1}'`)), 'DATABASE_ERROR');
        await expectCode(d.tenancy.withTenant(id, (t) => t.session.query(
          `UPDATE ${t.session.table('document_embeddings')}
              SET embedding = '{1,NaN,1}' WHERE document_id = 'up'`)), 'DATABASE_ERROR');
      });

      it('answers an empty list for a tenant without embeddings, then takes configure()',
        async () => {
          const cfg = `cfg-${isolation}`;
          expect(await d.tenancy.withTenant(cfg, (t) => t.vectors.search({ vector: [1, 2] })))
            .toEqual([]);
          expect(await d.tenancy.withTenant(cfg, (t) => t.vectors.settings())).toBeUndefined();
          await d.tenancy.withTenant(cfg, (t) => t.vectors.configure({ dimension: 2, metric: 'l2' }));
          expect(await d.tenancy.withTenant(cfg, (t) => t.vectors.settings()))
            .toEqual({ dimension: 2, metric: 'l2' });
        });
    });
  });
}
