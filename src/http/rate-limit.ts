// Per-tenant request rate over HTTP: the tenant comes from the key, never from the address.
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { TenancyError } from '../errors.ts';
import type { Tenancy } from '../tenancy.ts';
import { tenantOf } from './auth.ts';

/**
 * onRequest hook of the tenant routes, after authentication: a tenant past its rate gets 429
 * with `Retry-After`; the others keep their own budgets.
 */
export function rateLimit(tenancy: Tenancy): onRequestAsyncHookHandler {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const tenantId = tenantOf(request);
    const decision = await tenancy.limits.take(tenantId);
    if (decision.allowed) return;
    reply.header('retry-after', String(decision.retryAfterSeconds));
    throw new TenancyError('RATE_LIMITED', { tenantId });
  };
}
