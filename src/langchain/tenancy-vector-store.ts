// A LangChain.js VectorStore over one tenant's documents: every call is one session of that tenant.
import { randomUUID } from 'node:crypto';
import type { Callbacks } from '@langchain/core/callbacks/manager';
import { Document, type DocumentInterface } from '@langchain/core/documents';
import type { EmbeddingsInterface } from '@langchain/core/embeddings';
import {
  VectorStore, type MaxMarginalRelevanceSearchOptions,
} from '@langchain/core/vectorstores';
import { TenancyError } from '../errors.ts';
import type { SearchHit } from '../stores/document-vectors.ts';
import type { Metric } from '../stores/vector-inputs.ts';
import type { Tenancy } from '../tenancy.ts';
import { parseTenantId, type TenantId } from '../tenant-id.ts';

export interface TenancyVectorStoreArgs {
  tenancy: Tenancy;
  /** The one tenant this store reads and writes; required, never inferred. */
  tenantId: string;
  /** The metric of similarity searches (default cosine). */
  metric?: Metric;
}

/** A metadata filter: documents whose metadata contains this object (jsonb `@>`). */
export type TenancyFilter = Record<string, unknown>;

// Bulk calls of the library take at most this many documents; larger adds are cut into batches
// that all run in the same session, so an add is still all or nothing.
const batchSize = 1000;

function titleOf(doc: DocumentInterface): string {
  const given = doc.metadata?.title;
  if (typeof given === 'string' && given.trim() !== '') return given.slice(0, 1000);
  const firstLine = doc.pageContent.trim().split('\n')[0]?.trim() ?? '';
  return firstLine === '' ? 'untitled' : firstLine.slice(0, 200);
}

function toDocument(hit: SearchHit): Document {
  return new Document({
    id: hit.id, pageContent: hit.text, metadata: { title: hit.title, ...hit.metadata },
  });
}

/**
 * Stores LangChain documents as Tenancy documents with embeddings, in one tenant. Text and
 * title go through the document store (and so its encryption); the vectors are searched in the
 * tenant's session, where row-level security confines every mode.
 *
 * @example
 * const store = new TenancyVectorStore(new LocalHashEmbeddings(), { tenancy, tenantId: 'acme' });
 * await store.addDocuments([new Document({ pageContent: 'Roast slowly.' })]);
 * const hits = await store.asRetriever(4).invoke('how to roast');
 */
export class TenancyVectorStore extends VectorStore {
  declare FilterType: TenancyFilter;
  readonly tenantId: TenantId;
  readonly #tenancy: Tenancy;
  readonly #metric: Metric;

  constructor(embeddings: EmbeddingsInterface, args: TenancyVectorStoreArgs) {
    super(embeddings, {});
    if (args?.tenantId === undefined || args.tenantId === '') {
      throw new TenancyError('TENANT_ID_INVALID', {
        params: { detail: 'a vector store is bound to one tenant: pass tenantId' },
      });
    }
    this.tenantId = parseTenantId(args.tenantId);
    this.#tenancy = args.tenancy;
    this.#metric = args.metric ?? 'cosine';
  }

  _vectorstoreType(): string {
    return 'tenancy';
  }

  async addVectors(vectors: number[][], documents: DocumentInterface[],
    options: { ids?: string[] } = {}): Promise<string[]> {
    if (vectors.length !== documents.length) {
      throw new TenancyError('VALIDATION_FAILED', {
        params: { detail: 'one vector per document' },
      });
    }
    const items = documents.map((doc, i) => ({
      id: options.ids?.[i] ?? doc.id ?? randomUUID(),
      title: titleOf(doc),
      text: doc.pageContent,
      metadata: doc.metadata ?? {},
      embedding: vectors[i] as number[],
    }));
    return this.#tenancy.withTenant(this.tenantId, async (t) => {
      const ids: string[] = [];
      for (let i = 0; i < items.length; i += batchSize) {
        const created = await t.vectors.addDocuments(items.slice(i, i + batchSize));
        ids.push(...created.map((doc) => doc.id));
      }
      return ids;
    });
  }

  async addDocuments(documents: DocumentInterface[], options: { ids?: string[] } = {}):
    Promise<string[]> {
    const vectors = await this.embeddings.embedDocuments(documents.map((d) => d.pageContent));
    return this.addVectors(vectors, documents, options);
  }

  async similaritySearchVectorWithScore(query: number[], k: number, filter?: TenancyFilter):
    Promise<[Document, number][]> {
    const hits = await this.#tenancy.withTenant(this.tenantId,
      (t) => t.vectors.search({ vector: query, k, filter, mode: this.#metric }));
    return hits.map((hit) => [toDocument(hit), hit.score]);
  }

  override async maxMarginalRelevanceSearch(query: string,
    options: MaxMarginalRelevanceSearchOptions<TenancyFilter>, _callbacks?: Callbacks):
    Promise<Document[]> {
    const vector = await this.embeddings.embedQuery(query);
    const hits = await this.#tenancy.withTenant(this.tenantId, (t) => t.vectors.search({
      vector, k: options.k, fetchK: Math.max(options.fetchK ?? 20, options.k),
      lambda: options.lambda ?? 0.5, filter: options.filter, mode: 'mmr', metric: this.#metric,
    }));
    return hits.map(toDocument);
  }

  /** Deletes the documents (their embeddings go with them). */
  override async delete(params: { ids?: string[] } = {}): Promise<void> {
    const ids = params.ids ?? [];
    if (ids.length === 0) return;
    await this.#tenancy.withTenant(this.tenantId, async (t) => {
      for (const id of ids) await t.documents.delete(id);
    });
  }
}
