// /admin/residency and /admin/tenants/:id/move: where tenants' data is, region and isolation
// moves.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { MoveTarget } from '../tenant-operations.ts';
import type { Tenancy } from '../tenancy.ts';
import { adminContext } from './audit-hooks.ts';
import { operationView } from './operation-routes.ts';
import { wantsAsync, type Operations } from './operations.ts';
import * as answer from './responses.ts';
import { fromZod, pathParams } from './schemas.ts';

const tags = ['admin'];
const security = [{ adminToken: [] }];
const text = { type: 'string' } as const;
const count = { type: 'integer' } as const;

function object(properties: Record<string, unknown>, optional: string[] = []) {
  return {
    type: 'object', properties, additionalProperties: false,
    required: Object.keys(properties).filter((key) => !optional.includes(key)),
  } as const;
}

const place = object({
  tenantId: text, region: text, kind: text, where: text, count,
  isolation: { type: 'string', enum: ['row', 'schema', 'database'] },
}, ['isolation']);
const finding = object({ tenantId: text, region: text, kind: text, where: text, problem: text });
const report = object({
  ok: { type: 'boolean' },
  regions: { type: 'array', items: text },
  tenants: {
    type: 'array',
    items: object({
      tenantId: text, region: text, isolation: text, status: text,
      places: { type: 'array', items: place }, findings: { type: 'array', items: finding },
    }),
  },
  findings: { type: 'array', items: finding },
  at: { type: 'string', format: 'date-time' },
});
const moved = object({
  tenantId: text, from: text, to: text, moved: { type: 'boolean' },
  tables: { type: 'array', items: object({ table: text, rows: count, sha256: text }) },
});

const reportQuery = z.object({ tenant: z.string().max(64).optional() }).strict();

/** Registers the residency report and the region move under the admin prefix. */
export function residencyRoutes(tenancy: Tenancy, operations: Operations) {
  const moveBody = z.object({
    region: z.enum(Object.keys(tenancy.config.regions) as [string, ...string[]]).optional(),
    isolation: z.enum(['database', 'schema', 'row']).optional(),
  }).strict().refine((body) => (body.region === undefined) !== (body.isolation === undefined),
    { message: 'name exactly one of region and isolation' });
  const targetOf = (body: z.output<typeof moveBody>): MoveTarget =>
    (body.isolation === undefined ? { region: body.region as string }
      : { isolation: body.isolation });
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: z.output<typeof reportQuery> }>('/residency', {
      schema: {
        tags, security,
        summary: "Where each tenant's rows, keys and backups are, read from the servers",
        querystring: fromZod(reportQuery),
        response: answer.answers({ 200: report }),
      },
    }, (request) => tenancy.residency.report(request.query.tenant));

    app.post<{ Params: { id: string }; Body: z.output<typeof moveBody> }>('/tenants/:id/move', {
      schema: {
        tags, security,
        summary: 'Move a tenant to another region or isolation: copy, verify, switch, ' +
          'destroy the source',
        params: pathParams('id'), body: fromZod(moveBody),
        response: answer.answers({ 200: moved, 202: operationView }),
      },
    }, async (request, reply) => {
      const context = adminContext(request);
      if (wantsAsync(request)) {
        const tenant = await tenancy.tenants.get(request.params.id);
        // A move is not cut short when the server closes: it finishes, or the next process
        // undoes or completes it from its ledger.
        return operations.accept(reply, 'tenant.move', tenant.id, (report) =>
          tenancy.tenants.move(tenant.id, targetOf(request.body),
            { ...context, onStep: (step) => report({ phase: step }) }));
      }
      return tenancy.tenants.move(request.params.id, targetOf(request.body), context);
    });
  };
}
