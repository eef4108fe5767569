// The LangChain.js VectorStore: bound to one tenant, add, search with score, MMR, delete, retriever.
import { Document } from '@langchain/core/documents';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalHashEmbeddings, TenancyVectorStore } from '../../src/langchain/index.ts';
import type { Tenancy } from '../../src/index.ts';
import { drivers } from '../support/drivers.ts';
import { expectCode, skipDriver, useDeployment } from '../core/harness.ts';

const embeddings = new LocalHashEmbeddings({ dimensions: 64 });
const texts = [
  'Arabica coffee is grown on high slopes and roasted slowly.',
  'Robusta coffee beans are grown in the lowlands and are bitter.',
  'Green tea leaves are steamed and dried soon after picking.',
  'The bank raised its rate of discount to protect the reserve.',
];

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`TenancyVectorStore on ${kind}`, () => {
    const d = useDeployment(kind);
    const store = (tenancy: Tenancy, tenantId: string) =>
      new TenancyVectorStore(embeddings, { tenancy, tenantId });

    beforeAll(async () => {
      await d.tenancy.tenants.create({ id: 'lc-one', isolation: 'row' });
      await d.tenancy.tenants.create({ id: 'lc-two', isolation: 'schema' });
      const ids = await store(d.tenancy, 'lc-one').addDocuments(texts.map((text, i) =>
        new Document({ pageContent: text, metadata: { n: i, kind: i < 2 ? 'coffee' : 'other' } })),
      { ids: texts.map((_, i) => `doc-${i}`) });
      expect(ids).toEqual(['doc-0', 'doc-1', 'doc-2', 'doc-3']);
      // The other tenant holds the same texts under other ids.
      await store(d.tenancy, 'lc-two').addDocuments(texts.map((text, i) =>
        new Document({ id: `two-${i}`, pageContent: text, metadata: { title: `two ${i}` } })));
    });

    it('cannot be made without a tenant', async () => {
      const none = { tenancy: d.tenancy } as unknown as { tenancy: Tenancy; tenantId: string };
      await expectCode(() => new TenancyVectorStore(embeddings, none), 'TENANT_ID_INVALID');
      await expectCode(() => new TenancyVectorStore(embeddings, { tenancy: d.tenancy,
        tenantId: '' }), 'TENANT_ID_INVALID');
      await expectCode(() => new TenancyVectorStore(embeddings, { tenancy: d.tenancy,
        tenantId: 'Not A Tenant' }), 'TENANT_ID_INVALID');
    });

    it('searches with scores, in its own tenant only', async () => {
      const hits = await store(d.tenancy, 'lc-one').similaritySearchWithScore(
        'arabica coffee roasted slowly', 2);
      expect(hits.map(([doc]) => doc.id)).toEqual(['doc-0', 'doc-1']);
      expect(hits[0]?.[0].pageContent).toBe(texts[0]);
      expect(hits[0]?.[0].metadata).toMatchObject({ n: 0, kind: 'coffee' });
      expect(hits[0]?.[1]).toBeGreaterThan(hits[1]?.[1] as number);
      const two = await store(d.tenancy, 'lc-two').similaritySearch('arabica coffee', 4);
      expect(two.map((doc) => doc.id).every((id) => id?.startsWith('two-'))).toBe(true);
      expect(two[0]?.metadata.title).toBe('two 0');
    });

    it('filters by metadata', async () => {
      const hits = await store(d.tenancy, 'lc-one').similaritySearch('coffee', 4,
        { kind: 'other' });
      expect(hits.map((doc) => doc.id).sort()).toEqual(['doc-2', 'doc-3']);
    });

    it('answers MMR and works as a retriever', async () => {
      const s = store(d.tenancy, 'lc-one');
      const mmr = await s.maxMarginalRelevanceSearch('coffee beans grown',
        { k: 2, fetchK: 4, lambda: 0.2 });
      expect(mmr).toHaveLength(2);
      expect(mmr[0]?.id).toBe('doc-1');
      expect(mmr[1]?.id).not.toBe('doc-0');
      const found = await s.asRetriever({ k: 1 }).invoke('rate of discount and the reserve');
      expect(found.map((doc) => doc.id)).toEqual(['doc-3']);
      const viaMmr = await s.asRetriever({ k: 2, searchType: 'mmr',
        searchKwargs: { fetchK: 4, lambda: 0.5 } }).invoke('coffee');
      expect(viaMmr).toHaveLength(2);
    });

    it('deletes documents of its own tenant only', async () => {
      await store(d.tenancy, 'lc-two').delete({ ids: ['doc-3', 'two-3'] });
      const one = await store(d.tenancy, 'lc-one').similaritySearch('rate of discount', 1);
      expect(one.map((doc) => doc.id)).toEqual(['doc-3']);
      const two = await store(d.tenancy, 'lc-two').similaritySearch('rate of discount', 4);
      expect(two.map((doc) => doc.id)).not.toContain('two-3');
      expect(two).toHaveLength(3);
    });
  });
}
