// Embeddings of a tenant's documents and nearest-neighbour search over them, in one session.
import { TenancyError } from '../errors.ts';
import type { TenantSession } from '../storage/session.ts';
import type { DocumentStore, TenantDocument } from './documents.ts';
import { checkEmbedding } from './embedding-check.ts';
import { validate } from './inputs.ts';
import { selectMmr } from './mmr.ts';
import {
  bulkDocumentsInput, embeddingSettingsInput, searchInput, type BulkDocumentsInput,
  type EmbeddingSettingsInput, type Metric, type SearchInput,
} from './vector-inputs.ts';
import { nearestSql } from './vector-sql.ts';

export interface EmbeddingSettings {
  dimension: number;
  /** The metric the approximate index serves, where pgvector is installed. */
  metric: Metric;
}

/** Defaults from the config: the dimension and metric a tenant gets when it has none yet. */
export interface VectorDefaults {
  dimension?: number | undefined;
  metric?: Metric | undefined;
}

export interface SearchHit {
  id: string;
  /** Higher is closer: cosine similarity, inner product, or minus the L2 distance. */
  score: number;
  /** pgvector's distance: 1 - cosine similarity, minus the inner product, or L2 distance. */
  distance: number;
  title: string;
  text: string;
  metadata: Record<string, unknown>;
}

interface SettingsRow {
  dimension: number;
  metric: Metric;
  pgvector: boolean;
}

interface NearestRow {
  id: string;
  distance: number | string;
  embedding?: number[];
}

/**
 * `scope.vectors`: a tenant's embeddings. Every statement runs in the tenant's session, so
 * row-level security confines every mode and filter; nothing here names the tenant.
 */
export class DocumentVectors {
  constructor(
    private readonly session: TenantSession,
    private readonly documents: DocumentStore,
    private readonly defaults: VectorDefaults = {},
  ) {}

  /** The tenant's dimension and metric, or undefined before its first embedding. */
  async settings(): Promise<EmbeddingSettings | undefined> {
    const row = await this.#settings();
    return row === undefined ? undefined : { dimension: row.dimension, metric: row.metric };
  }

  /**
   * Fixes the tenant's dimension (and indexed metric) if it has none; otherwise checks that
   * `dimension` is the one it has. A tenant's dimension never changes while it has embeddings.
   */
  async configure(input: EmbeddingSettingsInput): Promise<EmbeddingSettings> {
    const { dimension, metric } = validate(embeddingSettingsInput, input);
    const s = this.session;
    const inserted = await s.query<{ dimension: number; metric: Metric }>(
      `INSERT INTO ${s.table('embedding_settings')} (dimension, metric) VALUES ($1, $2)
       ON CONFLICT (tenant_id) DO NOTHING RETURNING dimension, metric`,
      [dimension, metric ?? this.defaults.metric ?? 'cosine'],
    );
    const created = inserted.rows[0];
    if (created !== undefined) {
      // The first tenant of a dimension (in its layout) builds that dimension's index, empty.
      await s.query(`SELECT ${s.table('ensure_embedding_index')}($1, $2)`,
        [created.dimension, created.metric]);
      return created;
    }
    const current = await this.#settings();
    if (current === undefined) throw new TenancyError('INTERNAL');
    if (current.dimension !== dimension) throw mismatch(current.dimension, dimension);
    return { dimension: current.dimension, metric: current.metric };
  }

  /**
   * Creates documents with their embeddings, all or none: one bad item rolls back the whole
   * call (the session's transaction). Embeddings are checked before anything is written.
   */
  async addDocuments(input: BulkDocumentsInput['documents']): Promise<TenantDocument[]> {
    const { documents } = validate(bulkDocumentsInput, { documents: input });
    const embedded = documents.filter((doc) => doc.embedding !== undefined);
    let dimension: number | undefined;
    if (embedded.length > 0) {
      const first = embedded[0]?.embedding as unknown[];
      dimension = (await this.#settings())?.dimension ?? this.defaults.dimension ?? first.length;
      for (const doc of embedded) checkEmbedding(doc.embedding as unknown[], dimension);
      await this.configure({ dimension });
    }
    const created: TenantDocument[] = [];
    for (const { embedding: _embedding, ...doc } of documents) {
      created.push(await this.documents.create(doc));
    }
    const rows = documents.flatMap((doc, i) => doc.embedding === undefined
      ? []
      : [{ id: (created[i] as TenantDocument).id, embedding: doc.embedding as number[] }]);
    if (rows.length > 0) await this.#write(rows, dimension as number);
    return created;
  }

  /** Sets (or replaces) the embedding of an existing document; false when there is none. */
  async setEmbedding(documentId: string, embedding: readonly unknown[]): Promise<boolean> {
    const dimension = (await this.#settings())?.dimension ?? this.defaults.dimension ??
      embedding.length;
    const checked = checkEmbedding(embedding, dimension);
    if ((await this.documents.get(documentId)) === undefined) return false;
    await this.configure({ dimension });
    await this.#write([{ id: documentId, embedding: checked }], dimension);
    return true;
  }

  /** Removes a document's embedding and keeps the document; false when it had none. */
  async deleteEmbedding(documentId: string): Promise<boolean> {
    const s = this.session;
    const deleted = await s.query(
      `DELETE FROM ${s.table('document_embeddings')} WHERE document_id = $1`, [documentId]);
    return deleted.rowCount === 1;
  }

  /** The nearest documents to `input.vector` by the mode's metric, or by MMR. */
  async search(input: SearchInput): Promise<SearchHit[]> {
    const options = validate(searchInput, input);
    const settings = await this.#settings();
    if (settings === undefined) {
      checkEmbedding(options.vector);
      return [];
    }
    const vector = checkEmbedding(options.vector, settings.dimension);
    const mmr = options.mode === 'mmr';
    const metric: Metric = options.mode === 'mmr' ? (options.metric ?? 'cosine') : options.mode;
    const limit = mmr ? Math.max(options.fetchK ?? 20, options.k) : options.k;
    const s = this.session;
    if (settings.pgvector && !options.exact) {
      await s.query(`SELECT ${s.table('ensure_embedding_index')}($1, $2)`,
        [settings.dimension, settings.metric]);
      // Past the default 40 candidates the graph search would stop early; iterative scans keep
      // going when row-level security filters out other tenants' neighbours.
      await s.query(
        "SELECT set_config('hnsw.ef_search', $1, true), " +
        "set_config('hnsw.iterative_scan', 'strict_order', true)",
        [String(Math.min(1000, Math.max(40, limit)))]);
    }
    const nearestOf = async (exact: boolean): Promise<NearestRow[]> => {
      const { sql, params } = nearestSql({
        embeddings: s.table('document_embeddings'), documents: s.table('documents'),
        dimension: settings.dimension, metric, pgvector: settings.pgvector, exact,
        withEmbedding: mmr,
      }, { vector, limit, filter: options.filter });
      return (await s.query<NearestRow>(sql, params)).rows;
    };
    let nearest = await nearestOf(options.exact);
    // An index scan that ends short gave up (hnsw.max_scan_tuples) before it found enough of
    // this tenant's rows, or of the filter's: a small tenant beside large ones in row isolation,
    // or a rare filter. The exact scan then answers, over the tenant's rows only.
    if (settings.pgvector && !options.exact && nearest.length < limit) {
      nearest = await nearestOf(true);
    }
    const picked = mmr
      ? selectMmr(vector, nearest.map((row) => row.embedding as number[]), options.k,
        options.lambda).map((i) => nearest[i] as NearestRow)
      : nearest;
    const hits: SearchHit[] = [];
    for (const row of picked) {
      const doc = await this.documents.get(row.id);
      if (doc === undefined) continue;
      const distance = Number(row.distance);
      hits.push({
        id: row.id,
        score: metric === 'cosine' ? 1 - distance : -distance,
        distance,
        title: doc.title,
        text: doc.text,
        metadata: doc.metadata,
      });
    }
    return hits;
  }

  async #settings(): Promise<SettingsRow | undefined> {
    const s = this.session;
    const found = await s.query<SettingsRow>(
      `SELECT dimension, metric, to_regtype('vector') IS NOT NULL AS pgvector
         FROM ${s.table('embedding_settings')}`,
    );
    return found.rows[0];
  }

  // One statement for all rows: the components travel as one flat array and are cut per row.
  async #write(rows: { id: string; embedding: readonly number[] }[], dimension: number):
    Promise<void> {
    const s = this.session;
    await s.query(
      `INSERT INTO ${s.table('document_embeddings')} (document_id, dimension, embedding, norm)
       SELECT r.id, $3::integer, r.embedding,
              (SELECT sqrt(sum(x::float8 * x)) FROM unnest(r.embedding) AS x)
         FROM (SELECT ids.id, ($2::real[])[(ids.i - 1) * $3 + 1 : ids.i * $3] AS embedding
                 FROM unnest($1::text[]) WITH ORDINALITY AS ids(id, i)) r
       ON CONFLICT (tenant_id, document_id) DO UPDATE
          SET dimension = excluded.dimension, embedding = excluded.embedding,
              norm = excluded.norm, updated_at = now()`,
      [rows.map((row) => row.id), rows.flatMap((row) => [...row.embedding]), dimension],
    );
  }
}

function mismatch(expected: number, got: number): TenancyError {
  return new TenancyError('EMBEDDING_DIMENSION_MISMATCH', {
    params: { detail: `expected ${expected} components, got ${got}` },
  });
}
