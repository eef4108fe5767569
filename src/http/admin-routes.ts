// /admin: the operator's routes for tenants and their API keys, behind the admin token.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isolations } from '../config/schema.ts';
import { TenancyError } from '../errors.ts';
import type { Tenancy } from '../tenancy.ts';
import { adminContext } from './audit-hooks.ts';
import * as answer from './responses.ts';
import { fromZod, pathParams } from './schemas.ts';

const tags = ['admin'];
const security = [{ adminToken: [] }];
const byId = pathParams('id');
const byKey = pathParams('id', 'keyId');

interface ById { Params: { id: string } }

/** The create-tenant body; regions are limited to the configured ones, so none is echoed. */
function createTenantBody(regions: string[]) {
  return z.object({
    id: z.string(),
    displayName: z.string().min(1).max(200).optional(),
    isolation: z.enum(isolations as [string, ...string[]]).optional(),
    region: z.enum(regions as [string, ...string[]]).optional(),
  }).strict();
}

const listQuery = z.object({
  status: z.enum(['creating', 'active', 'suspended', 'deleting', 'deleted']).optional(),
  region: z.string().max(40).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  after: z.string().max(40).optional(),
});

/** Registers the admin routes; the admin token is checked before any of them runs. */
export function adminRoutes(tenancy: Tenancy) {
  const maxPage = tenancy.config.server.maxPageSize;
  const createBody = createTenantBody(Object.keys(tenancy.config.regions));
  return async (app: FastifyInstance): Promise<void> => {
    app.post<{ Body: z.output<typeof createBody> }>('/tenants', {
      schema: {
        tags, security, summary: 'Create a tenant and issue its first API key',
        body: fromZod(createBody),
        response: answer.answers({ 201: answer.createdTenant }),
      },
    }, async (request, reply) => {
      const body = request.body;
      const { tenant, apiKey } = await tenancy.tenants.create({
        id: body.id,
        displayName: body.displayName,
        isolation: body.isolation as (typeof isolations)[number] | undefined,
        region: body.region,
      }, adminContext(request));
      return reply.code(201)
        .send({ tenant, apiKey: { keyId: apiKey.keyId, secret: apiKey.secret } });
    });

    app.get<{ Querystring: z.output<typeof listQuery> }>('/tenants', {
      schema: {
        tags, security, summary: 'List tenants by id, optionally by status or region',
        querystring: fromZod(listQuery),
        response: answer.answers({ 200: answer.page(answer.tenant) }),
      },
    }, async (request) => {
      const limit = Math.min(request.query.limit ?? maxPage, maxPage);
      const { status, region, after } = request.query;
      const found = await tenancy.tenants.list({ status, region, after, limit: limit + 1 });
      const items = found.slice(0, limit);
      return { items, next: found.length > limit ? (items.at(-1)?.id ?? null) : null };
    });

    app.get<ById>('/tenants/:id', {
      schema: {
        tags, security, summary: 'Read one tenant', params: byId,
        response: answer.answers({ 200: answer.tenant }),
      },
    }, (request) => tenancy.tenants.get(request.params.id));

    app.post<ById>('/tenants/:id/suspend', {
      schema: {
        tags, security, summary: 'Suspend a tenant: its keys answer 403 until resumed',
        params: byId, response: answer.answers({ 200: answer.tenant }),
      },
    }, (request) => tenancy.tenants.suspend(request.params.id, adminContext(request)));

    app.post<ById>('/tenants/:id/resume', {
      schema: {
        tags, security, summary: 'Resume a suspended tenant',
        params: byId, response: answer.answers({ 200: answer.tenant }),
      },
    }, (request) => tenancy.tenants.resume(request.params.id, adminContext(request)));

    app.delete<ById>('/tenants/:id', {
      schema: {
        tags, security, summary: 'Delete a tenant: drop its data, revoke its keys, retire its id',
        params: byId, response: answer.answers({ 200: answer.tenant }),
      },
    }, (request) => tenancy.tenants.delete(request.params.id, adminContext(request)));

    app.post<ById>('/tenants/:id/keys', {
      schema: {
        tags, security, summary: 'Issue another API key for a tenant',
        params: byId, response: answer.answers({ 201: answer.issuedApiKey }),
      },
    }, async (request, reply) => {
      const key = await tenancy.apiKeys.issue(request.params.id, adminContext(request));
      return reply.code(201).send(key);
    });

    app.get<ById>('/tenants/:id/keys', {
      schema: {
        tags, security, summary: "List a tenant's API keys, revoked ones included",
        params: byId,
        response: answer.answers({
          200: { type: 'object', properties: { items: { type: 'array', items: answer.apiKeyInfo } },
            required: ['items'], additionalProperties: false },
        }),
      },
    }, async (request) => {
      const tenant = await tenancy.tenants.get(request.params.id);
      return { items: await tenancy.apiKeys.list(tenant.id) };
    });

    app.delete<{ Params: { id: string; keyId: string } }>('/tenants/:id/keys/:keyId', {
      schema: {
        tags, security, summary: 'Revoke one API key of a tenant',
        params: byKey, response: answer.answers({ 204: answer.noContent }),
      },
    }, async (request, reply) => {
      const revoked = await tenancy.apiKeys.revoke(request.params.id, request.params.keyId,
        adminContext(request));
      if (!revoked) throw new TenancyError('NOT_FOUND');
      return reply.code(204).send();
    });
  };
}
