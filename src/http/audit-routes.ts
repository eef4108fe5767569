// /admin/audit: the audit log, newest first, filtered and paged; /admin/tenants/:id/limits.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { auditOutcomes } from '../access/audit-log.ts';
import type { Tenancy } from '../tenancy.ts';
import { adminContext } from './audit-hooks.ts';
import * as answer from './responses.ts';
import { fromZod, pathParams } from './schemas.ts';

const tags = ['admin'];
const security = [{ adminToken: [] }];

const auditQuery = z.object({
  tenant: z.string().max(40).optional(),
  action: z.string().max(64).optional(),
  outcome: z.enum(auditOutcomes as [string, ...string[]]).optional(),
  actor: z.string().max(100).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: z.string().max(4096).optional(),
});

const nullableText = { type: ['string', 'null'] } as const;

const auditRecord = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    region: { type: 'string' },
    at: { type: 'string', format: 'date-time' },
    actor: {
      type: 'object',
      properties: { kind: { type: 'string' }, id: { type: 'string' } },
      required: ['kind'],
      additionalProperties: false,
    },
    tenantId: nullableText,
    action: { type: 'string' },
    resource: nullableText,
    outcome: { type: 'string', enum: auditOutcomes },
    code: nullableText,
    detail: nullableText,
    requestId: nullableText,
  },
  required: ['id', 'region', 'at', 'actor', 'tenantId', 'action', 'resource', 'outcome', 'code',
    'detail', 'requestId'],
  additionalProperties: false,
} as const;

const limitFields = {
  requestsPerSecond: { type: 'number' },
  burst: { type: 'integer' },
  statementTimeoutMillis: { type: 'integer' },
} as const;

const limitsView = {
  type: 'object',
  properties: {
    tenantId: { type: 'string' },
    effective: { type: 'object', properties: limitFields, required: Object.keys(limitFields),
      additionalProperties: false },
    overrides: { type: 'object', properties: limitFields, additionalProperties: false },
  },
  required: ['tenantId', 'effective', 'overrides'],
  additionalProperties: false,
} as const;

const limitsBody = z.object({
  requestsPerSecond: z.number().min(0).max(1_000_000).nullable().optional(),
  burst: z.number().int().min(1).max(1_000_000).nullable().optional(),
  statementTimeoutMillis: z.number().int().min(0).max(3_600_000).nullable().optional(),
}).strict();

/** Registers the audit and limit routes; the admin token is checked before any of them runs. */
export function auditRoutes(tenancy: Tenancy) {
  const maxPage = tenancy.config.server.maxPageSize;
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: z.output<typeof auditQuery> }>('/audit', {
      schema: {
        tags, security,
        summary: 'Read the audit log, newest first; pass `next` back as `cursor` for more',
        querystring: fromZod(auditQuery),
        response: answer.answers({ 200: {
          type: 'object',
          properties: { items: { type: 'array', items: auditRecord }, next: nullableText },
          required: ['items', 'next'],
          additionalProperties: false,
        } }),
      },
    }, (request) => {
      const q = request.query;
      return tenancy.audit.list({
        tenantId: q.tenant, action: q.action,
        outcome: q.outcome as (typeof auditOutcomes)[number] | undefined,
        actor: q.actor,
        since: q.since === undefined ? undefined : new Date(q.since),
        until: q.until === undefined ? undefined : new Date(q.until),
        limit: Math.min(q.limit ?? maxPage, maxPage),
        cursor: q.cursor,
      });
    });

    app.get<{ Params: { id: string } }>('/tenants/:id/limits', {
      schema: {
        tags, security, summary: "A tenant's limits: those in force and its own overrides",
        params: pathParams('id'), response: answer.answers({ 200: limitsView }),
      },
    }, (request) => tenancy.tenants.limits(request.params.id));

    app.put<{ Params: { id: string }; Body: z.output<typeof limitsBody> }>(
      '/tenants/:id/limits', {
        schema: {
          tags, security,
          summary: "Override a tenant's limits; null puts a field back to the default",
          params: pathParams('id'), body: fromZod(limitsBody),
          response: answer.answers({ 200: limitsView }),
        },
      }, (request) => tenancy.tenants.setLimits(request.params.id, request.body,
        adminContext(request)),
    );
  };
}
