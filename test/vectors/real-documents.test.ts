// Real input: the shared documents of four data-set tenants in different isolations, embedded
// with the local function; queries from a tenant's own documents find its own documents, and
// near-duplicates planted in another tenant never appear, in any mode, on either driver.
import { beforeAll, describe, expect, it } from 'vitest';
import { localEmbedding } from '../../src/index.ts';
import type { Isolation } from '../../src/config/schema.ts';
import { drivers } from '../support/drivers.ts';
import { skipDriver, useDeployment } from '../core/harness.ts';
import { passage, realDocuments, type RealDocument } from './support.ts';

const tenants: { id: string; isolation: Isolation }[] = [
  { id: 'sgd-restaurants', isolation: 'row' },
  { id: 'sgd-hotels', isolation: 'schema' },
  { id: 'sgd-banks', isolation: 'database' },
  { id: 'tm4-coffee', isolation: 'row' },
];
const modes = ['cosine', 'ip', 'l2', 'mmr'] as const;
const queriesPerTenant = 12;
const k = 5;

const corpus = new Map(tenants.map(({ id }) => [id, realDocuments(id)]));

/** Every `step`-th document of a tenant, as query sources. */
function sampled(id: string): RealDocument[] {
  const docs = corpus.get(id) as RealDocument[];
  const step = Math.floor(docs.length / queriesPerTenant);
  return Array.from({ length: queriesPerTenant }, (_, i) => docs[i * step] as RealDocument);
}

// The tenant that receives another's near-duplicates: the next one in the list.
const receiverOf = (i: number): string => (tenants[(i + 1) % tenants.length] as { id: string }).id;

/** A copy of a document with one word changed, so it is near but not equal. */
function nearDuplicate(doc: RealDocument): RealDocument {
  return { id: `planted-${doc.id}`, title: `${doc.title} (copy)`, text: `${doc.text} indeed` };
}

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`real documents on ${kind}`, () => {
    const d = useDeployment(kind);

    beforeAll(async () => {
      for (const { id, isolation } of tenants) {
        await d.tenancy.tenants.create({ id, isolation });
        const own = corpus.get(id) as RealDocument[];
        await d.tenancy.withTenant(id, (t) => t.vectors.addDocuments(own.map((doc) => ({
          ...doc, metadata: { source: id }, embedding: localEmbedding(doc.text) }))));
        expect(own.length).toBeGreaterThan(200);
      }
      // Each tenant's sampled documents, nearly copied into the next tenant.
      for (const [i, { id }] of tenants.entries()) {
        const planted = sampled(id).map(nearDuplicate);
        await d.tenancy.withTenant(receiverOf(i), (t) => t.vectors.addDocuments(
          planted.map((doc) => ({ ...doc, metadata: { planted: true },
            embedding: localEmbedding(doc.text) }))));
      }
    });

    it('keeps titles and texts sealed at rest and the vectors in clear', async () => {
      for (const { id } of tenants) {
        const doc = sampled(id)[0] as RealDocument;
        const row = await d.tenancy.withTenant(id, async ({ session }) =>
          (await session.query<{ title: Uint8Array; text: Uint8Array; embedding: number[] }>(
            `SELECT d.title, d.text, e.embedding FROM ${session.table('documents')} d
               JOIN ${session.table('document_embeddings')} e ON e.document_id = d.id
              WHERE d.id = $1`, [doc.id])).rows[0]);
        if (row === undefined) throw new Error(`${id}: ${doc.id} not stored`);
        const stored = Buffer.concat([Buffer.from(row.title), Buffer.from(row.text)]);
        for (const plain of [doc.title, passage(doc, 6)]) {
          expect(stored.includes(Buffer.from(plain, 'utf8')), `${id} ${plain}`).toBe(false);
        }
        const expected = localEmbedding(doc.text);
        expect(row.embedding).toHaveLength(expected.length);
        row.embedding.forEach((x, i) => expect(x).toBeCloseTo(expected[i] as number, 6));
      }
    });

    it.each(modes)('finds a tenant\'s own documents for its own passages (%s)', async (mode) => {
      for (const [i, { id }] of tenants.entries()) {
        const own = new Set((corpus.get(id) as RealDocument[]).map((doc) => doc.id));
        const giver = (tenants[(i + tenants.length - 1) % tenants.length] as { id: string }).id;
        const plantedHere = new Set(sampled(giver).map((doc) => nearDuplicate(doc).id));
        let firstIsSource = 0;
        for (const doc of sampled(id)) {
          const hits = await d.tenancy.withTenant(id, (t) => t.vectors.search({
            vector: localEmbedding(passage(doc)), k, mode, fetchK: 20 }));
          expect(hits).toHaveLength(k);
          // Copies planted here from another tenant are this tenant's too; nothing else is.
          for (const hit of hits) {
            expect(own.has(hit.id) || plantedHere.has(hit.id), `${id} got ${hit.id}`).toBe(true);
          }
          if (hits[0]?.id === doc.id) firstIsSource += 1;
          if (mode !== 'mmr') {
            expect(hits.map((hit) => hit.score))
              .toEqual([...hits.map((hit) => hit.score)].sort((a, b) => b - a));
          }
        }
        // The local embedding is crude, but a 40-word passage should lead back to its document.
        expect(firstIsSource, `${id} ${mode}`).toBeGreaterThanOrEqual(queriesPerTenant - 2);
      }
    });

    it.each(modes)('never shows the near-duplicates planted in another tenant (%s)',
      async (mode) => {
        for (const [i, { id }] of tenants.entries()) {
          const own = new Set((corpus.get(id) as RealDocument[]).map((doc) => doc.id));
          for (const doc of sampled(id)) {
            const vector = localEmbedding(passage(doc));
            for (const exact of [false, true]) {
              const hits = await d.tenancy.withTenant(id, (t) => t.vectors.search({
                vector, k: 10, mode, exact, fetchK: 40 }));
              // A tenant may hold copies planted from another; copies of its own are elsewhere.
              const copiesOfOwn = hits.filter((hit) => hit.id.startsWith('planted-') &&
                own.has(hit.id.slice('planted-'.length)));
              expect(copiesOfOwn).toEqual([]);
            }
            // The receiving tenant does see them: they are its documents now.
            const theirs = await d.tenancy.withTenant(receiverOf(i), (t) => t.vectors.search({
              vector, k: 3, mode, filter: { planted: true } }));
            expect(theirs.map((hit) => hit.id)).toContain(`planted-${doc.id}`);
            expect(theirs.every((hit) => !own.has(hit.id))).toBe(true);
          }
        }
      });
  });
}
