// Vector search bench: queries per second and recall@10 of the pgvector HNSW path (PGlite) and
// the exact real[] fallback (Postgres server without pgvector), one big tenant among others.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Tenancy } from '../../src/index.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { embeddingIndexName } from '../../src/stores/vector-migration.ts';
import { clusteredVectors } from './data.ts';

const dimension = 384;
const k = 10;
const others = 3;
const serverUrl = process.env.TENANCY_BENCH_DATABASE_URL ??
  process.env.TENANCY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface Options { sizes: number[]; queries: number; exactQueries: number; rounds: number;
  json: boolean; server: boolean; pglite: boolean }

function readOptions(argv: string[]): Options {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    sizes: (value('sizes') ?? '10000,100000').split(',').map(Number),
    queries: Number(value('queries') ?? 100),
    exactQueries: Number(value('exact-queries') ?? 10),
    rounds: Number(value('rounds') ?? 3),
    json: argv.includes('--json'),
    server: !argv.includes('--no-server'),
    pglite: !argv.includes('--no-pglite'),
  };
}

const progress = (line: string): void => void process.stderr.write(`${line}\n`);
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] as number
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

interface PathResult {
  path: string;
  vectors: number;
  loadSeconds: number;
  indexSeconds: number | null;
  qps: number;
  medianMillis: number;
  recallAt10: number;
  plan: string;
}

/** Loads `main` vectors into one tenant and a tenth of that into each of three others. */
async function load(tenancy: Tenancy, vectors: number[][], seed: number): Promise<void> {
  const batch = 1000;
  const add = async (tenant: string, items: number[][], prefix: string) => {
    for (let i = 0; i < items.length; i += batch) {
      await tenancy.withTenant(tenant, (t) => t.vectors.addDocuments(items.slice(i, i + batch)
        .map((embedding, j) => ({ id: `${prefix}${i + j}`, title: `${prefix}${i + j}`,
          text: '', embedding }))));
      if ((i / batch) % 10 === 0) progress(`  ${tenant}: ${i + batch}/${items.length}`);
    }
  };
  for (let o = 0; o < others; o += 1) {
    await add(`other-${o}`, clusteredVectors(Math.ceil(vectors.length / 10), dimension,
      seed + o + 1), 'o');
  }
  await add('main', vectors, 'v');
}

/** Runs every query `rounds` times; returns the median QPS of the rounds and the answers. */
async function measure(tenancy: Tenancy, queries: number[][], rounds: number, exact: boolean):
  Promise<{ qps: number; medianMillis: number; answers: string[][] }> {
  const rates: number[] = [];
  const latencies: number[] = [];
  let answers: string[][] = [];
  for (let round = 0; round < rounds; round += 1) {
    answers = [];
    const started = performance.now();
    for (const vector of queries) {
      const t0 = performance.now();
      const hits = await tenancy.withTenant('main', (t) => t.vectors.search({ vector, k, exact }));
      latencies.push(performance.now() - t0);
      answers.push(hits.map((hit) => hit.id));
    }
    rates.push(queries.length / ((performance.now() - started) / 1000));
  }
  return { qps: median(rates), medianMillis: median(latencies), answers };
}

/** Exact top-k ids by cosine, in memory: the truth when the PGlite side does not run. */
function exactInMemory(vectors: number[][], queries: number[][]): string[][] {
  const norms = vectors.map((v) => Math.hypot(...v));
  return queries.map((q) => {
    const qn = Math.hypot(...q);
    const scored = vectors.map((v, i) => {
      let dot = 0;
      for (let j = 0; j < v.length; j += 1) dot += (v[j] as number) * (q[j] as number);
      return { id: `v${i}`, score: dot / ((norms[i] as number) * qn) };
    });
    scored.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
    return scored.slice(0, k).map((hit) => hit.id);
  });
}

function recall(found: string[][], truth: string[][]): number {
  let hits = 0;
  truth.forEach((ids, i) => {
    const got = new Set(found[i]);
    hits += ids.filter((id) => got.has(id)).length;
  });
  return hits / (truth.length * k);
}

async function createTenants(tenancy: Tenancy): Promise<void> {
  for (const id of ['main', ...Array.from({ length: others }, (_, o) => `other-${o}`)]) {
    await tenancy.tenants.create({ id, isolation: 'row' });
  }
  // The dimension is fixed before the load so every tenant shares the one partial index.
  for (const id of ['main', ...Array.from({ length: others }, (_, o) => `other-${o}`)]) {
    await tenancy.withTenant(id, (t) => t.vectors.configure({ dimension }));
  }
}

async function planOf(tenancy: Tenancy, vector: number[]): Promise<string> {
  const index = embeddingIndexName('cosine', dimension);
  return tenancy.withTenant('main', async ({ session, vectors }) => {
    await vectors.search({ vector, k });
    const rows = await session.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT document_id FROM ${session.table('document_embeddings')} e
        WHERE dimension = ${dimension}
        ORDER BY e.embedding::vector(${dimension}) <=> $1::vector(${dimension}) LIMIT ${k}`,
      [`[${vector.join(',')}]`]);
    const text = rows.rows.map((row) => row['QUERY PLAN']).join('\n');
    return text.includes(index) ? 'hnsw index scan' : 'no index (exact scan)';
  });
}

/** PGlite with pgvector: load, build the HNSW index in one pass, measure, compare to exact. */
async function pgliteSide(vectors: number[][], queries: number[][], options: Options,
  seed: number): Promise<{ hnsw: PathResult; exactPgvector: PathResult; truth: string[][] }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tenancy-bench-vectors-'));
  const tenancy = await Tenancy.open({ dataDir, logLevel: 'silent' });
  try {
    await createTenants(tenancy);
    const tenant = await tenancy.tenants.get('main');
    const shared = tenancy.regionOf(tenant).driver.shared;
    const index = embeddingIndexName('cosine', dimension);
    // Bulk loads go faster without the index, then one build over all rows (as with any
    // Postgres index): the same function a tenant's first use calls rebuilds it.
    await shared.transaction('admin', (tx) =>
      tx.exec(`DROP INDEX IF EXISTS tenancy_rows.${index}`));
    let started = performance.now();
    await load(tenancy, vectors, seed);
    const loadSeconds = (performance.now() - started) / 1000;
    progress('  building the HNSW index');
    started = performance.now();
    await shared.transaction('admin', async (tx) => {
      await tx.query("SELECT set_config('maintenance_work_mem', '1GB', true)");
      await tx.query('SELECT tenancy_rows.ensure_embedding_index($1, $2)', [dimension, 'cosine']);
      await tx.exec('ANALYZE tenancy_rows.document_embeddings');
    });
    const indexSeconds = (performance.now() - started) / 1000;
    const plan = await planOf(tenancy, queries[0] as number[]);
    progress(`  exact answers for recall (${queries.length} queries)`);
    const exact = await measure(tenancy, queries, 1, true);
    progress('  HNSW queries');
    const hnsw = await measure(tenancy, queries, options.rounds, false);
    return {
      truth: exact.answers,
      hnsw: { path: 'pgvector HNSW (PGlite)', vectors: vectors.length, loadSeconds, indexSeconds,
        qps: hnsw.qps, medianMillis: hnsw.medianMillis,
        recallAt10: recall(hnsw.answers, exact.answers), plan },
      exactPgvector: { path: 'pgvector exact (PGlite)', vectors: vectors.length, loadSeconds,
        indexSeconds: null, qps: exact.qps, medianMillis: exact.medianMillis, recallAt10: 1,
        plan: 'sequential scan' },
    };
  } finally {
    await tenancy.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** The server without pgvector: exact search in SQL over real[]. */
async function serverSide(vectors: number[][], queries: number[][], truth: string[][],
  options: Options, seed: number): Promise<PathResult> {
  const suffix = randomBytes(4).toString('hex');
  const database = `tenancy_bench_vec_${suffix}`;
  const adminClient = new pg.Client({ connectionString: serverUrl });
  await adminClient.connect();
  await adminClient.query(`CREATE DATABASE "${database}"`);
  await adminClient.end();
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'tenancy-bench-vectors-'));
  const config: ConfigInput = { dataDir, logLevel: 'silent',
    regions: { local: { database: url.toString(), tenantDatabasePrefix: `tbv${suffix}_` } } };
  const tenancy = await Tenancy.open(config);
  try {
    await createTenants(tenancy);
    const started = performance.now();
    await load(tenancy, vectors, seed);
    const loadSeconds = (performance.now() - started) / 1000;
    const few = queries.slice(0, options.exactQueries);
    progress(`  exact real[] queries (${few.length})`);
    const result = await measure(tenancy, few, options.rounds, false);
    return { path: 'real[] exact (server, no pgvector)', vectors: vectors.length, loadSeconds,
      indexSeconds: null, qps: result.qps, medianMillis: result.medianMillis,
      recallAt10: recall(result.answers, truth.slice(0, few.length)), plan: 'sequential scan' };
  } finally {
    await tenancy.close();
    await rm(dataDir, { recursive: true, force: true });
    const cleanup = new pg.Client({ connectionString: serverUrl });
    await cleanup.connect();
    await cleanup.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await cleanup.end();
  }
}

const options = readOptions(process.argv.slice(2));
const results: PathResult[] = [];
for (const size of options.sizes) {
  const seed = 1000 + size;
  const vectors = clusteredVectors(size, dimension, seed);
  const queries = clusteredVectors(options.queries, dimension, seed).map((v, i) =>
    v.map((x, j) => x + 0.01 * Math.sin(i + j)));
  let truth: string[][];
  if (options.pglite) {
    progress(`${size} vectors: PGlite with pgvector`);
    const lite = await pgliteSide(vectors, queries, options, seed);
    results.push(lite.hnsw, lite.exactPgvector);
    truth = lite.truth;
  } else {
    truth = exactInMemory(vectors, queries.slice(0, options.exactQueries));
  }
  if (options.server) {
    progress(`${size} vectors: Postgres server, real[] fallback`);
    results.push(await serverSide(vectors, queries, truth, options, seed));
  }
}

if (options.json) {
  console.log(JSON.stringify({ dimension, k, otherTenants: others, results }, null, 2));
} else {
  console.log(`dimension ${dimension}, k ${k}, ${others} other tenants of a tenth the size ` +
    'each, row isolation; medians');
  console.log('| vectors | path | load s | index build s | queries/s | median ms | recall@10 | plan |');
  console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const r of results) {
    console.log(`| ${r.vectors} | ${r.path} | ${r.loadSeconds.toFixed(0)} | ` +
      `${r.indexSeconds === null ? '-' : r.indexSeconds.toFixed(0)} | ${r.qps.toFixed(1)} | ` +
      `${r.medianMillis.toFixed(1)} | ${r.recallAt10.toFixed(3)} | ${r.plan} |`);
  }
}
