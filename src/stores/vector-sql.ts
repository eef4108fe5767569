// The nearest-neighbour statement in its two forms: pgvector operators, or plain SQL on real[].
import type { Metric } from './vector-inputs.ts';

export interface NearestQuery {
  /** Qualified table names from the tenant session. */
  embeddings: string;
  documents: string;
  /** The tenant's dimension: a checked integer from its settings row, written as a literal so
   * the planner can match the partial index `WHERE dimension = n`. */
  dimension: number;
  metric: Metric;
  pgvector: boolean;
  /** Compare with every row even where an index could answer. */
  exact: boolean;
  /** Return each row's embedding too (MMR needs them). */
  withEmbedding: boolean;
}

export interface NearestValues {
  vector: readonly number[];
  limit: number;
  filter?: Record<string, unknown> | undefined;
}

/**
 * `SELECT id, distance[, embedding]` of the nearest rows, ordered by distance, then id, with
 * its parameters: the query vector (pgvector's text form, or float8[]), the limit, the metadata
 * filter (jsonb) if any, and the query's norm for cosine on arrays.
 *
 * The tenant is never a parameter: row-level security on both tables confines every row read,
 * in every form of the statement.
 */
export function nearestSql(q: NearestQuery, values: NearestValues):
  { sql: string; params: unknown[] } {
  const n = q.dimension;
  if (!Number.isInteger(n) || n < 1) throw new Error('dimension must be a positive integer');
  const params: unknown[] = [
    q.pgvector ? `[${values.vector.join(',')}]` : values.vector, values.limit,
  ];
  let filter = '';
  if (values.filter !== undefined) {
    params.push(JSON.stringify(values.filter));
    filter = `AND EXISTS (SELECT 1 FROM ${q.documents} d WHERE d.tenant_id = e.tenant_id
          AND d.id = e.document_id AND d.metadata @> $${params.length}::jsonb)`;
  }
  let distance: string;
  if (q.pgvector) {
    distance = pgvectorDistance(q.metric, n);
  } else if (q.metric === 'cosine') {
    // Float32-rounded like the stored components, so both sides of the ratio agree.
    params.push(Math.hypot(...values.vector.map(Math.fround)));
    distance = arrayDistance(q.metric, `$${params.length}::float8`);
  } else {
    distance = arrayDistance(q.metric, '');
  }
  // `+ 0` hides the indexed expression from the planner, which then reads every row: exact.
  const order = q.pgvector && q.exact ? `(${distance}) + 0` : distance;
  const sql = `SELECT e.document_id AS id, ${distance} AS distance
    ${q.withEmbedding ? ', e.embedding' : ''}
  FROM ${q.embeddings} e
 WHERE e.dimension = ${n} ${filter}
 ORDER BY ${order}, e.document_id
 LIMIT $2`;
  return { sql, params };
}

function pgvectorDistance(metric: Metric, n: number): string {
  const op = metric === 'cosine' ? '<=>' : metric === 'ip' ? '<#>' : '<->';
  return `(e.embedding::vector(${n}) ${op} $1::vector(${n}))`;
}

// The same three distances as pgvector defines them: 1 - cosine, minus the inner product, and
// the Euclidean distance; summed in double precision over the pairs of components.
function arrayDistance(metric: Metric, queryNorm: string): string {
  const pairs = 'unnest(e.embedding, $1::float8[]) AS p(a, b)';
  if (metric === 'l2') return `(SELECT sqrt(sum((p.a - p.b) ^ 2)) FROM ${pairs})`;
  const dot = `(SELECT sum(p.a * p.b) FROM ${pairs})`;
  return metric === 'ip' ? `(-${dot})` : `(1 - ${dot} / (e.norm * ${queryNorm}))`;
}
