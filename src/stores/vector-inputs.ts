// Input shapes of embeddings and vector search, validated once for the library and the service.
import { z } from 'zod';
import { documentInput, objectId } from './inputs.ts';

/** The most components one embedding may have; pgvector's `vector` type allows 16,000. */
export const maxDimension = 16_000;

export const metrics = ['cosine', 'ip', 'l2'] as const;
export type Metric = (typeof metrics)[number];

// Components are checked one by one in embedding-check.ts, so NaN and infinities get their own
// error code instead of a generic "expected number".
const embedding = z.array(z.unknown()).min(1).max(maxDimension);

const metadataFilter = z.record(z.string(), z.unknown()).refine(
  (value) => JSON.stringify(value).length <= 16_384,
  'filter is at most 16 KiB of JSON',
);

export const embeddingSettingsInput = z.object({
  dimension: z.number().int().min(1).max(maxDimension),
  /** The metric the HNSW index serves; the others are still searched, exactly. */
  metric: z.enum(metrics).optional(),
}).strict();

export const embeddedDocumentInput = documentInput.extend({
  embedding: embedding.optional(),
});

export const bulkDocumentsInput = z.object({
  documents: z.array(embeddedDocumentInput).min(1).max(1000),
}).strict();

export const embeddingInput = z.object({
  embedding,
}).strict();

export const searchInput = z.object({
  vector: embedding,
  k: z.number().int().min(1).max(1000).default(4),
  /** Documents whose metadata contains this JSON object (jsonb `@>`). */
  filter: metadataFilter.optional(),
  mode: z.enum([...metrics, 'mmr']).default('cosine'),
  /** MMR: the metric that fetches candidates and scores them (default cosine). */
  metric: z.enum(metrics).optional(),
  /** MMR: 1 is pure relevance, 0 pure diversity. */
  lambda: z.number().min(0).max(1).default(0.5),
  /** MMR: how many candidates to pick from (default max(20, k)). */
  fetchK: z.number().int().min(1).max(1000).optional(),
  /** Skip the approximate index and compare with every stored embedding. */
  exact: z.boolean().default(false),
}).strict().refine((value) => value.fetchK === undefined || value.fetchK >= value.k, {
  message: 'fetchK must be at least k', path: ['fetchK'],
});

export const deleteInput = z.object({ ids: z.array(objectId).min(1).max(1000) }).strict();

export type EmbeddingSettingsInput = z.input<typeof embeddingSettingsInput>;
export type EmbeddedDocumentInput = z.input<typeof embeddedDocumentInput>;
export type BulkDocumentsInput = z.input<typeof bulkDocumentsInput>;
export type SearchInput = z.input<typeof searchInput>;
export type SearchOptions = z.output<typeof searchInput>;
