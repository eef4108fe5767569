// Runs one tenant request in one session, abandoned when the client goes away.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TenancyError, isTenancyError } from '../errors.ts';
import type { Tenancy, TenantScope } from '../tenancy.ts';
import { tenantOf } from './auth.ts';

/**
 * Calls `fn` inside exactly one `tenancy.withTenant` for the request's authenticated tenant.
 * The session gets a signal that aborts if the connection closes before the answer is written,
 * so a departed client's transaction rolls back instead of finishing for nobody.
 */
export async function inTenant<T>(
  tenancy: Tenancy,
  request: FastifyRequest,
  reply: FastifyReply,
  fn: (scope: TenantScope) => Promise<T>,
): Promise<T> {
  const tenantId = tenantOf(request);
  const controller = new AbortController();
  // The response's close, not the request's: Node closes a request once its body is read.
  const onClose = (): void => {
    if (!reply.raw.writableFinished) controller.abort();
  };
  reply.raw.once('close', onClose);
  try {
    return await tenancy.withTenant(tenantId, async (scope) => {
      const result = await fn(scope);
      // Checked before the commit on every driver: work done for a client that left is undone.
      controller.signal.throwIfAborted();
      return result;
    }, { signal: controller.signal });
  } catch (err) {
    if (controller.signal.aborted) request.log.info('client went away; its session rolled back');
    // The key was valid but its tenant is gone (deleted, or never finished): the credentials
    // no longer lead anywhere, which is what 401 says.
    if (isTenancyError(err, 'TENANT_NOT_FOUND')) throw new TenancyError('UNAUTHENTICATED');
    throw err;
  } finally {
    reply.raw.off('close', onClose);
  }
}

/** Throws NOT_FOUND for a missing object; a foreign id and an unknown one look the same. */
export function found<T>(value: T | undefined): T {
  if (value === undefined) throw new TenancyError('NOT_FOUND');
  return value;
}
