// /admin/doctor: the isolation doctor's report on the live deployment, behind the admin token.
import type { FastifyInstance } from 'fastify';
import type { Tenancy } from '../tenancy.ts';
import * as answer from './responses.ts';

const text = { type: 'string' } as const;
const texts = { type: 'array', items: text } as const;

function object(properties: Record<string, unknown>) {
  return {
    type: 'object', properties, required: Object.keys(properties), additionalProperties: false,
  } as const;
}

const finding = object({ region: text, database: text, subject: text, problem: text });

const report = object({
  ok: { type: 'boolean' },
  checks: {
    type: 'array',
    items: object({
      id: text, title: text, ok: { type: 'boolean' }, checked: { type: 'integer' },
      findings: { type: 'array', items: finding }, notes: texts,
    }),
  },
  inspected: {
    type: 'array',
    items: object({
      region: text, database: text, driver: { type: 'string', enum: ['pg', 'pglite'] },
      layouts: texts, tables: { type: 'integer' },
    }),
  },
});

/**
 * Registers `GET /doctor` under the admin prefix. It answers 200 with `ok: false` when faults
 * are found: the request worked, and the report says what is wrong.
 */
export function doctorRoutes(tenancy: Tenancy) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/doctor', {
      schema: {
        tags: ['admin'], security: [{ adminToken: [] }],
        summary: 'Inspect the deployment for isolation faults',
        response: answer.answers({ 200: report }),
      },
    }, () => tenancy.doctor());
  };
}
