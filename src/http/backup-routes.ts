// /admin backup routes: a tenant's archives: create, list, verify, restore, clone, prune.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ProgressOptions } from '../backup/backup-reports.ts';
import { isolations, type Isolation } from '../config/schema.ts';
import type { Tenancy } from '../tenancy.ts';
import { adminContext } from './audit-hooks.ts';
import { operationView } from './operation-routes.ts';
import { wantsAsync, type Operations } from './operations.ts';
import * as answer from './responses.ts';
import { fromZod, pathParams } from './schemas.ts';

const tags = ['backups'];
const security = [{ adminToken: [] }];
const byTenant = pathParams('id');
const byBackup = pathParams('id', 'backupId');

const text = { type: 'string' } as const;
const integer = { type: 'integer' } as const;
const timestamp = { type: 'string', format: 'date-time' } as const;

function object(properties: Record<string, unknown>) {
  return {
    type: 'object', properties, required: Object.keys(properties), additionalProperties: false,
  } as const;
}

const tableRows = { type: 'array', items: object({ name: text, rows: integer }) } as const;

const backupInfo = object({
  id: text, tenantId: text, region: text, isolation: text, schemaVersion: integer,
  createdAt: timestamp, finishedAt: timestamp, tables: tableRows, rows: integer,
  bytes: integer, compression: text, location: text,
});

const verifyReport = object({
  id: text, tenantId: text, ok: { type: 'boolean' }, chunks: integer, rows: integer,
  tables: tableRows, bytes: integer,
});

const restoreFields = {
  id: text, tenantId: text, from: text, rows: integer, tables: tableRows, durationMs: integer,
};

const restoreReport = object(restoreFields);

const cloneReport = object({
  ...restoreFields,
  tenant: object({ id: text, region: text, isolation: text, status: text,
    schemaVersion: integer }),
  apiKey: object({ keyId: text, secret: text }),
});

const pruneReport = object({
  tenantId: text,
  deleted: { type: 'array', items: text },
  kept: { type: 'array', items: text },
  unfinished: { type: 'array', items: text },
});

// Both may be left out entirely: a POST with no body backs up or restores with the defaults.
const createBody = z.object({
  compression: z.enum(['gzip', 'brotli', 'none']).optional(),
  checksums: z.boolean().optional(),
}).strict().nullish();
const restoreBody = z.object({ from: z.string().max(40).optional() }).strict().nullish();
const cloneBody = z.object({
  to: z.string(),
  isolation: z.enum(isolations as [string, ...string[]]).optional(),
  displayName: z.string().min(1).max(200).optional(),
}).strict();
const pruneBody = z.object({
  keep: z.number().int().min(0).max(1_000_000).optional(),
  olderThanSeconds: z.number().int().min(0).optional(),
}).strict();

interface ById { Params: { id: string } }
interface ByBackup { Params: { id: string; backupId: string } }

/**
 * Registers the backup routes under /admin. Create, verify and restore run within the request,
 * or, with `Prefer: respond-async`, after a 202 that says where to follow them (an unknown
 * tenant is still answered at once).
 */
export function backupRoutes(tenancy: Tenancy, operations: Operations) {
  return async (app: FastifyInstance): Promise<void> => {
    app.post<ById & { Body: z.output<typeof createBody> }>('/tenants/:id/backups', {
      schema: {
        tags, security, summary: "Write an archive of the tenant's data to its region's store",
        params: byTenant, body: fromZod(createBody),
        response: answer.answers({ 201: backupInfo, 202: operationView }),
      },
    }, async (request, reply) => {
      const context = adminContext(request);
      const run = (options: ProgressOptions) => tenancy.backups.create(request.params.id, {
        ...options,
        compression: request.body?.compression, digests: request.body?.checksums === true,
      }, context);
      if (wantsAsync(request)) {
        const tenant = await tenancy.tenants.get(request.params.id);
        return operations.accept(reply, 'backup.create', tenant.id,
          (onProgress, signal) => run({ onProgress, signal }));
      }
      return reply.code(201).send(await run({}));
    });

    app.get<ById>('/tenants/:id/backups', {
      schema: {
        tags, security, summary: "List the tenant's finished archives, newest first",
        params: byTenant,
        response: answer.answers({
          200: object({ items: { type: 'array', items: backupInfo } }),
        }),
      },
    }, async (request) => ({ items: await tenancy.backups.list(request.params.id) }));

    app.post<ByBackup>('/tenants/:id/backups/:backupId/verify', {
      schema: {
        tags, security, summary: 'Read every chunk of an archive: hashes, decryption, counts',
        params: byBackup, response: answer.answers({ 200: verifyReport, 202: operationView }),
      },
    }, async (request, reply) => {
      const { id, backupId } = request.params;
      if (wantsAsync(request)) {
        const tenant = await tenancy.tenants.get(id);
        return operations.accept(reply, 'backup.verify', tenant.id, (onProgress, signal) =>
          tenancy.backups.verify(id, backupId, { onProgress, signal }));
      }
      return tenancy.backups.verify(id, backupId);
    });

    app.post<ByBackup & { Body: z.output<typeof restoreBody> }>(
      '/tenants/:id/backups/:backupId/restore', {
        schema: {
          tags, security, summary: "Replace the tenant's data with the archive's, atomically",
          params: byBackup, body: fromZod(restoreBody),
          response: answer.answers({ 200: restoreReport, 202: operationView }),
        },
      }, async (request, reply) => {
        const { id, backupId } = request.params;
        const context = adminContext(request);
        const from = request.body?.from;
        if (wantsAsync(request)) {
          const tenant = await tenancy.tenants.get(id);
          return operations.accept(reply, 'backup.restore', tenant.id, (onProgress, signal) =>
            tenancy.backups.restore(id, backupId, { from, onProgress, signal }, context));
        }
        return tenancy.backups.restore(id, backupId, { from }, context);
      });

    app.post<ByBackup & { Body: z.output<typeof cloneBody> }>(
      '/tenants/:id/backups/:backupId/clone', {
        schema: {
          tags, security, summary: 'Make a new tenant from the archive, under its own keys',
          params: byBackup, body: fromZod(cloneBody),
          response: answer.answers({ 201: cloneReport }),
        },
      }, async (request, reply) => {
        const body = request.body;
        const done = await tenancy.backups.clone(request.params.id, request.params.backupId, {
          to: body.to,
          ...(body.isolation === undefined ? {} : { isolation: body.isolation as Isolation }),
          ...(body.displayName === undefined ? {} : { displayName: body.displayName }),
        }, {}, adminContext(request));
        return reply.code(201).send(done);
      });

    app.post<ById & { Body: z.output<typeof pruneBody> }>('/tenants/:id/backups/prune', {
      schema: {
        tags, security, summary: 'Delete archives beyond the newest N and/or older than an age',
        params: byTenant, body: fromZod(pruneBody),
        response: answer.answers({ 200: pruneReport }),
      },
    }, (request) => tenancy.backups.prune(request.params.id, {
      keep: request.body.keep,
      olderThanMillis: request.body.olderThanSeconds === undefined ? undefined
        : request.body.olderThanSeconds * 1000,
    }, adminContext(request)));
  };
}
