// Turns a driver error into a TenancyError, keeping SQLSTATE and constraint but no query values.
import { TenancyError, isTenancyError } from '../errors.ts';
import { noTenantContextState, reenterState, tenantFencedState } from './bootstrap.ts';

interface DriverErrorFields {
  code?: unknown;
  detail?: unknown;
  constraint?: unknown;
}

export function toTenancyError(err: unknown, tenantId?: string): TenancyError {
  if (isTenancyError(err)) return err;
  const fields = (typeof err === 'object' && err !== null ? err : {}) as DriverErrorFields;
  const sqlState = typeof fields.code === 'string' ? fields.code : undefined;
  const constraint = typeof fields.constraint === 'string' ? fields.constraint : undefined;
  const base = { tenantId, cause: err, sqlState, constraint };
  if (sqlState === noTenantContextState) return new TenancyError('NO_TENANT_CONTEXT', base);
  // A fenced tenant: deleted, or held for a move (or moved to another region) since the
  // caller looked it up.
  if (sqlState === tenantFencedState) {
    return new TenancyError(fields.detail === 'deleted' ? 'TENANT_NOT_FOUND' : 'TENANT_SUSPENDED',
      base);
  }
  // Code inside a session called tenancy.enter_tenant to become another tenant.
  if (sqlState === reenterState) {
    return new TenancyError('SESSION_SETTING_REFUSED', { ...base,
      params: { detail: 'a session enters one tenant only' } });
  }
  if (sqlState === '23505') return new TenancyError('ID_TAKEN', base);
  // query_canceled: the statement timeout of a tenant session ran out.
  if (sqlState === '57014') return new TenancyError('STATEMENT_TIMEOUT', base);
  // An aborted signal (client gone, or AbortSignal.timeout) ends the session before its commit.
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) {
    return new TenancyError('CANCELLED', base);
  }
  if (fields.code === 'POOL_TIMEOUT') return new TenancyError('POOL_TIMEOUT', base);
  if (fields.code === 'POOL_CLOSED') return new TenancyError('CLOSED', base);
  return new TenancyError('DATABASE_ERROR', base);
}
