// An HNSW scan that runs out before it finds k of the tenant's rows: in row isolation a small
// tenant shares the index with large ones, and a rare filter thins the rows the same way. The
// search must still answer what the exact scan answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tenancy } from '../../src/index.ts';
import type { TenantScope } from '../../src/tenancy.ts';
import { openFresh } from '../support/drivers.ts';
import { randomVectors } from './support.ts';

const dimension = 8;
const big = randomVectors(600, dimension, 11);
const small = randomVectors(5, dimension, 12);
const query = randomVectors(1, dimension, 13)[0] as number[];

// Forces the plan through the index and lets it give up after a few tuples, as it would after
// hnsw.max_scan_tuples (20,000 by default) on a table of millions.
async function starved(t: TenantScope): Promise<void> {
  await t.session.query(
    "SELECT set_config('hnsw.max_scan_tuples', '30', true), " +
    "set_config('enable_seqscan', 'off', true), set_config('enable_sort', 'off', true)");
}

describe('an HNSW scan that ends short (PGlite, row isolation)', () => {
  let opened: { tenancy: Tenancy; close(): Promise<void> } | undefined;
  const tenancy = (): Tenancy => {
    if (opened === undefined) throw new Error('not open');
    return opened.tenancy;
  };

  beforeAll(async () => {
    opened = await openFresh('pglite');
    await tenancy().tenants.create({ id: 'short-big', isolation: 'row' });
    await tenancy().tenants.create({ id: 'short-small', isolation: 'row' });
    await tenancy().withTenant('short-big', (t) => t.vectors.addDocuments(big.map(
      (embedding, i) => ({ id: `b${i}`, title: 'b', text: '', embedding,
        metadata: { rare: i % 200 === 0 } }))));
    await tenancy().withTenant('short-small', (t) => t.vectors.addDocuments(small.map(
      (embedding, i) => ({ id: `s${i}`, title: 's', text: '', embedding }))));
  });
  afterAll(async () => {
    await opened?.close();
  });

  it('uses the index for the starved plan', async () => {
    const plan = await tenancy().withTenant('short-small', async (t) => {
      await starved(t);
      await t.vectors.search({ vector: query });
      const rows = (await t.session.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT document_id FROM ${t.session.table('document_embeddings')} e
          WHERE dimension = ${dimension}
          ORDER BY e.embedding::vector(${dimension}) <=> $1::vector(${dimension}) LIMIT 10`,
        [`[${query.join(',')}]`])).rows;
      return rows.map((row) => row['QUERY PLAN']).join('\n');
    });
    expect(plan).toContain(`document_embeddings_hnsw_cosine_${dimension}`);
  });

  it('returns every row of a small tenant beside a large one, in every mode', async () => {
    for (const mode of ['cosine', 'ip', 'l2', 'mmr'] as const) {
      const search = (exact: boolean) => tenancy().withTenant('short-small', async (t) => {
        await starved(t);
        return (await t.vectors.search({ vector: query, k: 10, mode, exact }))
          .map((hit) => hit.id);
      });
      const exact = await search(true);
      expect(exact.slice().sort()).toEqual(['s0', 's1', 's2', 's3', 's4']);
      expect(await search(false)).toEqual(exact);
    }
  });

  it('returns every row of a rare filter', async () => {
    const ids = await tenancy().withTenant('short-big', async (t) => {
      await starved(t);
      return (await t.vectors.search({ vector: query, k: 10, filter: { rare: true } }))
        .map((hit) => hit.id);
    });
    expect(ids.slice().sort()).toEqual(['b0', 'b200', 'b400']);
  });
});
