// Tenant tables of document embeddings: one dimension per tenant, vectors kept as real[] so the
// layout is the same with or without pgvector; where pgvector is, HNSW indexes cover them.
import type { MigrationContext } from '../storage/migrations.ts';

const tenantColumn = 'tenant_id text NOT NULL DEFAULT tenancy.current_tenant()';

/** The largest dimension pgvector's HNSW index takes for the `vector` type. */
export const maxIndexedDimension = 2000;

/** Index names per dimension and metric, as `ensure_embedding_index` creates them. */
export function embeddingIndexName(metric: string, dimension: number): string {
  return `document_embeddings_hnsw_${metric}_${dimension}`;
}

/**
 * The embedding tables of one layout, appended to the built-in model. The per-tenant dimension
 * lives in `embedding_settings`; each embedding row names it through a foreign key, so a row of
 * another dimension cannot be stored even by SQL that skips the store.
 *
 * `ensure_embedding_index(dimension, metric)` is the one thing a tenant session may ask the
 * owner to do (SECURITY DEFINER, no names taken): build the HNSW index of a dimension the first
 * time a tenant uses it, and keep the table's statistics current. It builds only for a
 * dimension and metric that a tenant of the layout has set. The index is partial
 * (`WHERE dimension = n`) over the cast `embedding::vector(n)`, because in `row` isolation one
 * column holds vectors of every tenant's dimension and an HNSW index takes one. ANALYZE runs
 * once the table has changed by a tenth: the planner weighs the index against reading the
 * tenant's rows by `tenant_id`, and PGlite has no autovacuum to keep that estimate true.
 */
export function embeddingTablesSql({ table, secure }: MigrationContext): string {
  const embeddings = table('document_embeddings');
  return `
DO $ext$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
    CREATE EXTENSION IF NOT EXISTS vector;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $ext$;
CREATE TABLE ${table('embedding_settings')} (
  ${tenantColumn},
  dimension integer NOT NULL CHECK (dimension BETWEEN 1 AND 16000),
  metric text NOT NULL DEFAULT 'cosine' CHECK (metric IN ('cosine', 'ip', 'l2')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id),
  UNIQUE (tenant_id, dimension)
);
${secure('embedding_settings')}
CREATE TABLE ${embeddings} (
  ${tenantColumn},
  document_id text NOT NULL,
  dimension integer NOT NULL,
  embedding real[] NOT NULL,
  norm double precision NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, document_id),
  CHECK (array_ndims(embedding) = 1 AND cardinality(embedding) = dimension),
  CHECK (array_position(embedding, NULL) IS NULL),
  CHECK (NOT (embedding && ARRAY['NaN', 'Infinity', '-Infinity']::real[])),
  CHECK (norm > 0),
  FOREIGN KEY (tenant_id, document_id)
    REFERENCES ${table('documents')} (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, dimension)
    REFERENCES ${table('embedding_settings')} (tenant_id, dimension)
);
${secure('document_embeddings')}
CREATE FUNCTION ${table('ensure_embedding_index')}(dim integer, metric text) RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog
AS $fn$
DECLARE
  ext_schema text;
  table_oid oid := '${embeddings}'::regclass;
  index_name text := 'document_embeddings_hnsw_' || metric || '_' || dim;
  changed bigint;
  total real;
  opclass text := CASE metric WHEN 'cosine' THEN 'vector_cosine_ops'
    WHEN 'ip' THEN 'vector_ip_ops' WHEN 'l2' THEN 'vector_l2_ops' END;
BEGIN
  IF dim IS NULL OR dim < 1 OR dim > ${maxIndexedDimension} OR opclass IS NULL THEN
    RETURN false;
  END IF;
  -- Only a dimension and metric that a tenant of this layout has set: a session cannot have
  -- indexes built that no search will use.
  IF NOT EXISTS (SELECT 1 FROM ${table('embedding_settings')} s
                  WHERE s.dimension = dim AND s.metric = ensure_embedding_index.metric) THEN
    RETURN false;
  END IF;
  SELECT n.nspname INTO ext_schema FROM pg_extension e
    JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector';
  IF ext_schema IS NULL THEN
    RETURN false;
  END IF;
  -- Looked up first: CREATE INDEX IF NOT EXISTS would lock out writers even when it has
  -- nothing to do.
  IF NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                  WHERE i.indrelid = table_oid AND c.relname = index_name) THEN
    BEGIN
      EXECUTE format(
        'CREATE INDEX IF NOT EXISTS %I ON ${embeddings} ' ||
          'USING hnsw ((embedding::%I.vector(%s)) %I.%I) WHERE dimension = %s',
        index_name, ext_schema, dim, ext_schema, opclass, dim);
    EXCEPTION WHEN duplicate_table OR unique_violation THEN
      NULL;
    END;
  END IF;
  SELECT s.n_mod_since_analyze, c.reltuples INTO changed, total
    FROM pg_stat_all_tables s JOIN pg_class c ON c.oid = s.relid WHERE s.relid = table_oid;
  IF changed >= greatest(50, 0.1 * greatest(total, 0)) THEN
    ANALYZE ${embeddings};
  END IF;
  RETURN true;
END
$fn$;`;
}
