// /admin encryption routes: a tenant's key status, rotation, re-encryption, retirement, shred.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isTenancyError, TenancyError } from '../errors.ts';
import type { Tenancy } from '../tenancy.ts';
import { adminContext } from './audit-hooks.ts';
import * as encryption from './encryption-responses.ts';
import * as answer from './responses.ts';
import { fromZod, pathParams } from './schemas.ts';

const tags = ['encryption'];
const security = [{ adminToken: [] }];
const byId = pathParams('id');

interface ById { Params: { id: string } }

const retireBody = z.object({ version: z.number().int().min(1).max(2 ** 31 - 1) }).strict();
const rootBody = z.object({ region: z.string().max(40).optional() }).strict();

/**
 * Registers the encryption routes under /admin. Re-encryption runs in the background of this
 * process (one run per tenant at a time); its checkpoint lives in the keyring tables, so the
 * status route shows its progress and a run stopped by a restart resumes when started again.
 */
export function encryptionRoutes(tenancy: Tenancy) {
  return async (app: FastifyInstance): Promise<void> => {
    const running = new Map<string, AbortController>();
    app.addHook('onClose', async () => {
      for (const run of running.values()) run.abort();
    });

    app.get<ById>('/tenants/:id/encryption', {
      schema: {
        tags, security, summary: "A tenant's keyring: key versions, values per version",
        params: byId, response: answer.answers({ 200: encryption.keyStatus }),
      },
    }, (request) => tenancy.keys.status(request.params.id));

    app.post<ById>('/tenants/:id/encryption/rotate', {
      schema: {
        tags, security, summary: 'Add a data key version, active for new writes',
        params: byId, response: answer.answers({ 200: encryption.keyStatus }),
      },
    }, (request) => tenancy.keys.rotate(request.params.id, adminContext(request)));

    app.post<ById>('/tenants/:id/encryption/reencrypt', {
      schema: {
        tags, security, summary: 'Start sealing every value again under the active version',
        params: byId, response: answer.answers({ 202: encryption.reencryptStarted }),
      },
    }, async (request, reply) => {
      const tenant = await tenancy.tenants.get(request.params.id);
      // A deleted tenant has nothing to re-encrypt: answer now, not from the background.
      if (tenant.status === 'deleted') throw new TenancyError('TENANT_NOT_FOUND');
      const tenantId = (await tenancy.keys.status(tenant.id)).tenantId;
      if (!running.has(tenantId)) {
        const stop = new AbortController();
        running.set(tenantId, stop);
        const log = request.log;
        void tenancy.keys.reencrypt(tenantId, { signal: stop.signal }, adminContext(request))
          .catch((err: unknown) => {
            if (stop.signal.aborted) return;
            log.error({ code: isTenancyError(err) ? err.code : 'INTERNAL', tenantId },
              'background re-encryption failed');
          })
          .finally(() => running.delete(tenantId));
      }
      return reply.code(202).send({ tenantId, running: true });
    });

    app.post<ById & { Body: z.output<typeof retireBody> }>('/tenants/:id/encryption/retire', {
      schema: {
        tags, security, summary: 'Retire a data key version no value uses any more',
        params: byId, body: fromZod(retireBody),
        response: answer.answers({ 200: encryption.keyStatus }),
      },
    }, (request) => tenancy.keys.retire(request.params.id, request.body.version,
      adminContext(request)));

    app.post<{ Body: z.output<typeof rootBody> }>('/encryption/rotate-root', {
      schema: {
        tags, security, summary: 'New root key; rewrap every master key (data untouched)',
        body: fromZod(rootBody), response: answer.answers({ 200: encryption.rootRotations }),
      },
    }, async (request) => ({
      regions: await tenancy.keys.rotateRoot({ region: request.body.region },
        adminContext(request)),
    }));

    app.post<ById>('/tenants/:id/shred', {
      schema: {
        tags, security,
        summary: 'Delete a tenant and destroy its keys: no copy of its data decrypts again',
        params: byId, response: answer.answers({ 200: encryption.deletionRecord }),
      },
    }, (request) => tenancy.tenants.delete(request.params.id,
      { ...adminContext(request), shred: true }));
  };
}
