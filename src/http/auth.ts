// Who is calling: a tenant by its API key alone, or the operator by the admin token.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { TenancyError } from '../errors.ts';
import type { Tenancy } from '../tenancy.ts';
import type { TenantId } from '../tenant-id.ts';

// The tenant each authenticated request acts for; set only from a verified key.
const tenants = new WeakMap<FastifyRequest, TenantId>();

/** The `Authorization: Bearer <token>` token, or undefined for any other header. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer[ ]+(\S{1,512})[ ]*$/i.exec(header);
  return match?.[1];
}

/**
 * onRequest hook of the tenant routes: resolves the tenant from the API key and binds it to the
 * request's logger. A tenant named anywhere else in the request (header, query, path, body) is
 * never read.
 */
export function tenantAuthentication(tenancy: Tenancy): onRequestAsyncHookHandler {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const token = bearerToken(request);
    const tenantId = token === undefined ? undefined : await tenancy.apiKeys.authenticate(token);
    if (tenantId === undefined) throw new TenancyError('UNAUTHENTICATED');
    tenants.set(request, tenantId);
    request.log = request.log.child({ tenantId });
    reply.log = request.log;
  };
}

/** The tenant an authenticated request acts for. */
export function tenantOf(request: FastifyRequest): TenantId {
  const tenantId = tenants.get(request);
  if (tenantId === undefined) throw new TenancyError('UNAUTHENTICATED');
  return tenantId;
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * onRequest hook of the admin routes. The presented token and the configured one are compared
 * as SHA-256 digests in constant time, so neither their content nor their length shows in the
 * timing. With no admin token configured every admin request is refused.
 */
export function adminAuthentication(adminToken: string | undefined): onRequestAsyncHookHandler {
  const expected = adminToken === undefined || adminToken === '' ? undefined : digest(adminToken);
  return async (request: FastifyRequest) => {
    const token = bearerToken(request);
    // Hash something even when there is no token, so a missing header costs the same.
    const presented = digest(token ?? '');
    const same = expected !== undefined && timingSafeEqual(presented, expected);
    if (!same || token === undefined) throw new TenancyError('UNAUTHENTICATED');
  };
}
