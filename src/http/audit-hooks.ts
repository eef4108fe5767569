// What the HTTP service writes to the audit log: failed logins and tenants named by the client.
import type {
  FastifyReply, FastifyRequest, onResponseAsyncHookHandler, preValidationAsyncHookHandler,
} from 'fastify';
import { tenantResource, type AuditContext } from '../access/audit-log.ts';
import { tenantHints, type TenantHint } from '../access/tenant-hints.ts';
import type { Tenancy } from '../tenancy.ts';
import { bearerToken, tenantOf } from './auth.ts';

// The key id is the public half of a token (`tny_<key id>_<secret>`); the secret is never kept.
const keyIdShape = /^tny_([a-z0-9]{16})_/;

/** The key id a request presents, when its token has the shape of one. */
export function presentedKeyId(request: FastifyRequest): string | undefined {
  const token = bearerToken(request);
  return token === undefined ? undefined : keyIdShape.exec(token)?.[1];
}

/** Audit context of an /admin request: the operator's token, and the request id. */
export function adminContext(request: FastifyRequest): AuditContext {
  return { actor: { kind: 'admin' }, requestId: request.id };
}

function routeOf(request: FastifyRequest): string {
  try {
    return `${request.method} ${request.routeOptions.url ?? '(no route)'}`;
  } catch {
    return `${request.method} (no route)`;
  }
}

/**
 * onResponse hook of the whole app: every 401 becomes an `auth.failed` record, queued so that
 * a flood of bad tokens costs no database round trip per request.
 */
export function auditFailedAuthentication(tenancy: Tenancy): onResponseAsyncHookHandler {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (reply.statusCode !== 401) return;
    const keyId = presentedKeyId(request);
    const admin = request.url.startsWith('/admin');
    tenancy.audit.note({
      action: 'auth.failed',
      outcome: 'denied',
      actor: { kind: 'anonymous', id: keyId },
      resource: routeOf(request),
      code: 'UNAUTHENTICATED',
      detail: bearerToken(request) === undefined ? 'no bearer token'
        : admin ? 'wrong admin token' : 'unknown, revoked or malformed api key',
      requestId: request.id,
    });
  };
}

// Host names whose first label turned out to name no tenant, so `api.example.com` costs one
// catalog read per minute rather than one per request.
const notTenants = new Map<string, number>();
const notTenantMillis = 60_000;

async function namesKnownTenant(tenancy: Tenancy, hint: TenantHint): Promise<boolean> {
  if (hint.source !== 'host') return true;
  const until = notTenants.get(hint.value);
  if (until !== undefined && until > Date.now()) return false;
  const known = await tenancy.tenants.get(hint.value).then(() => true, () => false);
  if (!known) {
    if (notTenants.size > 10_000) notTenants.clear();
    notTenants.set(hint.value, Date.now() + notTenantMillis);
  }
  return known;
}

/**
 * preValidation hook of the tenant routes (the body is parsed by then). A tenant named in the
 * request that is not the key's own changes nothing: the request is served as the key's tenant.
 * The attempt is recorded as denied, against the key's tenant.
 */
export function auditNamedTenants(tenancy: Tenancy): preValidationAsyncHookHandler {
  return async (request: FastifyRequest) => {
    const own = tenantOf(request);
    const hints = tenantHints({
      headers: request.headers, query: request.query, body: request.body,
      host: request.headers.host,
    });
    for (const hint of hints) {
      if (hint.value === own || !(await namesKnownTenant(tenancy, hint))) continue;
      tenancy.audit.note({
        action: 'access.cross_tenant',
        outcome: 'denied',
        actor: { kind: 'api-key', id: presentedKeyId(request) },
        tenantId: own,
        resource: tenantResource(hint.value),
        code: 'FORBIDDEN',
        detail: `named in ${hint.source} ${hint.field}; served as the key's own tenant`,
        requestId: request.id,
      });
    }
  };
}
