// GET /admin/operations/:operationId: how a long admin operation started with
// `Prefer: respond-async` is doing, and its report or error once it ended.
import type { FastifyInstance } from 'fastify';
import type { Operations } from './operations.ts';
import * as answer from './responses.ts';
import { pathParams } from './schemas.ts';

const nullable = (schema: Record<string, unknown>) =>
  ({ ...schema, type: [schema.type as string, 'null'] });

/** The body of a 202 and of the polling route. */
export const operationView = answer.object({
  id: answer.text,
  kind: answer.text,
  tenantId: answer.text,
  status: { type: 'string', enum: ['running', 'done', 'failed'] },
  startedAt: answer.timestamp,
  finishedAt: nullable(answer.timestamp),
  progress: nullable({
    ...answer.object({ phase: answer.text, rows: { type: 'integer' }, total: { type: 'integer' } }),
    required: ['phase'],
  }),
  result: { type: ['object', 'null'], additionalProperties: true },
  error: nullable(answer.object({ code: answer.text, message: answer.text })),
}, 'A long admin operation: running, done (with its report) or failed (with its error).');

export function operationRoutes(operations: Operations) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Params: { operationId: string } }>('/operations/:operationId', {
      schema: {
        tags: ['admin'], security: [{ adminToken: [] }],
        summary: 'Progress and outcome of an operation started with Prefer: respond-async',
        params: pathParams('operationId'),
        response: answer.answers({ 200: operationView }),
      },
    }, async (request) => operations.get(request.params.operationId));
  };
}
