// /v1/documents/bulk, /v1/documents/search and /v1/documents/:id/embedding: embeddings and search.
import type { FastifyInstance } from 'fastify';
import {
  bulkDocumentsInput, embeddingInput, searchInput, type BulkDocumentsInput, type SearchInput,
} from '../stores/vector-inputs.ts';
import type { Tenancy } from '../tenancy.ts';
import * as answer from './responses.ts';
import { fromZod, pathParams } from './schemas.ts';
import { found, inTenant } from './tenant-scope.ts';

const tags = ['documents'];
const security = [{ apiKey: [] }];
const number = { type: 'number' } as const;
const text = { type: 'string' } as const;

const searchHit = {
  type: 'object',
  properties: {
    id: text,
    score: { ...number, description: 'Higher is closer.' },
    distance: { ...number, description: 'pgvector\'s distance for the metric.' },
    title: text,
    text,
    metadata: { type: 'object', additionalProperties: true },
  },
  required: ['id', 'score', 'distance', 'title', 'text', 'metadata'],
  additionalProperties: false,
} as const;

const items = (item: object) => ({
  type: 'object',
  properties: { items: { type: 'array', items: item } },
  required: ['items'],
  additionalProperties: false,
} as const);

interface ById { Params: { id: string } }

/** Registers the vector routes; the tenant comes from the API key checked before them. */
export function vectorRoutes(tenancy: Tenancy) {
  return async (app: FastifyInstance): Promise<void> => {
    app.post<{ Body: BulkDocumentsInput }>('/documents/bulk', {
      schema: {
        tags, security,
        summary: 'Create up to 1000 documents, with embeddings, all or none',
        body: fromZod(bulkDocumentsInput),
        response: answer.answers({ 201: items(answer.tenantDocument) }),
      },
    }, async (request, reply) => {
      const created = await inTenant(tenancy, request, reply,
        (t) => t.vectors.addDocuments(request.body.documents));
      return reply.code(201).send({ items: created });
    });

    app.post<{ Body: SearchInput }>('/documents/search', {
      schema: {
        tags, security,
        summary: 'Nearest documents to a vector: cosine, inner product, L2, or MMR',
        body: fromZod(searchInput),
        response: answer.answers({ 200: items(searchHit) }),
      },
    }, async (request, reply) => ({
      items: await inTenant(tenancy, request, reply, (t) => t.vectors.search(request.body)),
    }));

    app.put<ById & { Body: { embedding: unknown[] } }>('/documents/:id/embedding', {
      schema: {
        tags, security, summary: 'Set or replace the embedding of a document',
        params: pathParams('id'),
        body: fromZod(embeddingInput),
        response: answer.answers({ 204: answer.noContent }),
      },
    }, async (request, reply) => {
      const set = await inTenant(tenancy, request, reply,
        (t) => t.vectors.setEmbedding(request.params.id, request.body.embedding));
      found(set ? true : undefined);
      return reply.code(204).send();
    });

    app.delete<ById>('/documents/:id/embedding', {
      schema: {
        tags, security, summary: 'Remove the embedding of a document, keeping the document',
        params: pathParams('id'),
        response: answer.answers({ 204: answer.noContent }),
      },
    }, async (request, reply) => {
      const deleted = await inTenant(tenancy, request, reply,
        (t) => t.vectors.deleteEmbedding(request.params.id));
      found(deleted ? true : undefined);
      return reply.code(204).send();
    });
  };
}
