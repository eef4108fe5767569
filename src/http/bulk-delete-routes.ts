// /v1/documents/bulk-delete: deletes up to 100 documents in one session, answering per id.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Tenancy } from '../tenancy.ts';
import * as answer from './responses.ts';
import { fromZod } from './schemas.ts';
import { inTenant } from './tenant-scope.ts';

// An id longer than any object id names nothing; the bound only keeps bodies small.
const bulkDeleteBody = z.object({
  ids: z.array(z.string().min(1).max(256)).min(1).max(100),
}).strict();

type BulkDeleteBody = z.output<typeof bulkDeleteBody>;

const outcome = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    status: { type: 'string', enum: ['deleted', 'not_found'] },
  },
  required: ['id', 'status'],
  additionalProperties: false,
} as const;

const bulkDeleteAnswer = {
  type: 'object',
  properties: { items: { type: 'array', items: outcome } },
  required: ['items'],
  additionalProperties: false,
} as const;

/**
 * Registers `POST /documents/bulk-delete`. Every id gets `deleted` or `not_found`, in the order
 * given; an id of another tenant's document is simply not found, like one that never existed.
 */
export function bulkDeleteRoutes(tenancy: Tenancy) {
  return async (app: FastifyInstance): Promise<void> => {
    app.post<{ Body: BulkDeleteBody }>('/documents/bulk-delete', {
      schema: {
        tags: ['documents'], security: [{ apiKey: [] }],
        summary: 'Delete up to 100 documents, all in one transaction, with an outcome per id',
        body: fromZod(bulkDeleteBody),
        response: answer.answers({ 200: bulkDeleteAnswer }),
      },
    }, async (request, reply) => ({
      items: await inTenant(tenancy, request, reply, async (t) => {
        const items: Array<{ id: string; status: 'deleted' | 'not_found' }> = [];
        for (const id of request.body.ids) {
          items.push({ id, status: await t.documents.delete(id) ? 'deleted' : 'not_found' });
        }
        return items;
      }),
    }));
  };
}
