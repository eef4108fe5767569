// The two search paths side by side: pgvector with HNSW (PGlite) and plain SQL on real[] (the
// server without pgvector) answer the same, and the index really serves the pgvector path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tenancy } from '../../src/index.ts';
import type { SearchHit } from '../../src/stores/document-vectors.ts';
import { nearestSql } from '../../src/stores/vector-sql.ts';
import { isolations, openFresh, type DriverKind } from '../support/drivers.ts';
import { expectCode, pgAvailable } from '../core/harness.ts';
import { randomVectors } from './support.ts';

const dimension = 24;
const stored = randomVectors(400, dimension, 7);
const queries = randomVectors(12, dimension, 99);
const modes = ['cosine', 'ip', 'l2', 'mmr'] as const;
type Mode = typeof modes[number];

interface Opened { tenancy: Tenancy; close(): Promise<void> }

async function seeded(kind: DriverKind): Promise<Opened> {
  const opened = await openFresh(kind);
  for (const isolation of isolations) {
    for (const id of [`paths-${isolation}`, `noise-${isolation}`]) {
      await opened.tenancy.tenants.create({ id, isolation });
    }
    await opened.tenancy.withTenant(`paths-${isolation}`, (t) => t.vectors.addDocuments(
      stored.map((embedding, i) => ({ id: `v${i}`, title: `v${i}`, text: '', embedding,
        metadata: { even: i % 2 === 0 } }))));
    // Another tenant's vectors, each a hair from one of the queries: never to be seen.
    await opened.tenancy.withTenant(`noise-${isolation}`, (t) => t.vectors.addDocuments(
      queries.map((q, i) => ({ id: `n${i}`, title: 'noise', text: '',
        embedding: q.map((x) => x + 1e-3) }))));
  }
  return opened;
}

async function answers(tenancy: Tenancy, tenant: string, exact: boolean,
  filter?: Record<string, unknown>): Promise<Record<Mode, SearchHit[][]>> {
  const out = {} as Record<Mode, SearchHit[][]>;
  for (const mode of modes) {
    out[mode] = [];
    for (const vector of queries) {
      out[mode].push(await tenancy.withTenant(tenant, (t) => t.vectors.search({
        vector, k: 10, mode, exact, filter, fetchK: 30 })));
    }
  }
  return out;
}

function expectSame(a: SearchHit[][], b: SearchHit[][]): void {
  expect(a.map((hits) => hits.map((hit) => hit.id))).toEqual(b.map((hits) => hits.map((h) => h.id)));
  a.forEach((hits, i) => hits.forEach((hit, j) => {
    expect(hit.score).toBeCloseTo((b[i]?.[j] as SearchHit).score, 4);
  }));
}

describe('pgvector (PGlite) and the real[] fallback (server)', () => {
  let lite: Opened | undefined;
  let server: Opened | undefined;
  const must = (o: Opened | undefined): Tenancy => {
    if (o === undefined) throw new Error('not open');
    return o.tenancy;
  };

  beforeAll(async () => {
    lite = await seeded('pglite');
    if (pgAvailable) server = await seeded('pg');
  });
  afterAll(async () => {
    await lite?.close();
    await server?.close();
  });

  it('has pgvector on PGlite and the HNSW index serves its searches, under RLS', async () => {
    for (const isolation of isolations) {
      // A search first: it brings the planner's statistics up to date after the bulk load
      // (unless another tenant's first use already did), once; the next session finds them
      // fresh. Fresh means within the tenth of the table `ensure_embedding_index` allows: in
      // row isolation the noise tenant's 12 rows came after the last ANALYZE, and stay there.
      await must(lite).withTenant(`paths-${isolation}`,
        (t) => t.vectors.search({ vector: queries[0] as number[] }));
      const stats = await must(lite).withTenant(`paths-${isolation}`, async ({ session }) =>
        (await session.query<{ analysed: number; changed: number }>(
          `SELECT c.reltuples::integer AS analysed, s.n_mod_since_analyze::integer AS changed
             FROM pg_stat_all_tables s JOIN pg_class c ON c.oid = s.relid
            WHERE s.relid = '${session.table('document_embeddings')}'::regclass`)).rows[0]);
      expect(stats?.analysed).toBeGreaterThanOrEqual(stored.length);
      expect(stats?.changed).toBeLessThan(Math.max(50, 0.1 * stored.length));
      const plans = await must(lite).withTenant(`paths-${isolation}`, async ({ session }) => {
        // 400 rows are cheaper to sort than to walk a graph for, and the planner knows it; with
        // sorting priced out, the plan shows whether the index matches the statement under RLS.
        await session.query("SELECT set_config('enable_sort', 'off', true)");
        const plan = async (exact: boolean): Promise<string> => {
          const { sql, params } = nearestSql({
            embeddings: session.table('document_embeddings'),
            documents: session.table('documents'), dimension, metric: 'cosine',
            pgvector: true, exact, withEmbedding: false,
          }, { vector: queries[0] as number[], limit: 10 });
          const rows = (await session.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params))
            .rows;
          return rows.map((row) => row['QUERY PLAN']).join('\n');
        };
        return { approximate: await plan(false), exact: await plan(true) };
      });
      expect(plans.approximate).toContain(`document_embeddings_hnsw_cosine_${dimension}`);
      expect(plans.exact).not.toContain('hnsw');
    }
  });

  it('builds no index for a dimension or metric that no tenant has set', async () => {
    for (const isolation of isolations) {
      const built = await must(lite).withTenant(`paths-${isolation}`, async ({ session }) => {
        const call = `SELECT ${session.table('ensure_embedding_index')}($1, $2) AS ok`;
        const answers: (boolean | undefined)[] = [];
        for (const [dim, metric] of [[17, 'cosine'], [dimension, 'l2'], [dimension, 'cosine']]) {
          answers.push((await session.query<{ ok: boolean }>(call, [dim, metric])).rows[0]?.ok);
        }
        const indexes = (await session.query<{ name: string }>(
          `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = '${session.table('document_embeddings')}'::regclass
              AND c.relname LIKE 'document_embeddings_hnsw_%' ORDER BY 1`)).rows;
        return { answers, indexes: indexes.map((row) => row.name) };
      });
      expect(built).toEqual({ answers: [false, false, true],
        indexes: [`document_embeddings_hnsw_cosine_${dimension}`] });
    }
  });

  it('finds the same neighbours with HNSW as exactly (recall@10 at least 0.95)', async () => {
    const approximate = await answers(must(lite), 'paths-row', false);
    const exact = await answers(must(lite), 'paths-row', true);
    for (const mode of ['cosine', 'ip', 'l2'] as const) {
      let found = 0;
      exact[mode].forEach((hits, i) => {
        const got = new Set(approximate[mode][i]?.map((hit) => hit.id));
        found += hits.filter((hit) => got.has(hit.id)).length;
      });
      expect(found / (queries.length * 10)).toBeGreaterThanOrEqual(0.95);
    }
  });

  it.skipIf(!pgAvailable)('answers exactly alike on both paths, in every mode and filter',
    async () => {
      for (const isolation of isolations) {
        for (const filter of [undefined, { even: true }]) {
          const a = await answers(must(lite), `paths-${isolation}`, true, filter);
          const b = await answers(must(server), `paths-${isolation}`, false, filter);
          for (const mode of modes) expectSame(a[mode], b[mode]);
          const ids = [...Object.values(a), ...Object.values(b)].flat(2).map((hit) => hit.id);
          expect(ids).toHaveLength(2 * modes.length * queries.length * 10);
          expect(ids.some((id) => id.startsWith('n'))).toBe(false);
          if (filter !== undefined) {
            expect(ids.every((id) => Number(id.slice(1)) % 2 === 0)).toBe(true);
          }
        }
      }
    });

  it.skipIf(!pgAvailable)('has no vector type on the server and says so in its settings',
    async () => {
      const regtype = await must(server).withTenant('paths-row', async ({ session }) =>
        (await session.query<{ t: string | null }>("SELECT to_regtype('vector')::text AS t"))
          .rows[0]?.t);
      expect(regtype).toBeNull();
    });
});

describe('the dimension from the config', () => {
  it('is the one a tenant gets on first use', async () => {
    const opened = await openFresh('pglite', {}, { vectors: { dimension: 5, metric: 'ip' } });
    try {
      await opened.tenancy.tenants.create({ id: 'conf-row', isolation: 'row' });
      const err = await expectCode(opened.tenancy.withTenant('conf-row', (t) =>
        t.vectors.addDocuments([{ title: 't', text: '', embedding: [1, 2, 3] }])),
      'EMBEDDING_DIMENSION_MISMATCH');
      expect(err.message).toContain('expected 5 components, got 3');
      await opened.tenancy.withTenant('conf-row', (t) =>
        t.vectors.addDocuments([{ title: 't', text: '', embedding: [1, 2, 3, 4, 5] }]));
      expect(await opened.tenancy.withTenant('conf-row', (t) => t.vectors.settings()))
        .toEqual({ dimension: 5, metric: 'ip' });
    } finally {
      await opened.close();
    }
  });
});
