// Tenant ids: validated slugs, checked before they reach SQL, a file path or a log line.
import { TenancyError } from './errors.ts';

export type TenantId = string & { readonly __brand: 'TenantId' };

const slug = /^[a-z][a-z0-9-]{2,39}$/;

// Names that mean something to Postgres or to us; refused even though prefixes keep them apart.
const reserved = new Set([
  'public', 'pg-catalog', 'information-schema', 'postgres', 'template0', 'template1',
  'tenancy', 'admin', 'root', 'default', 'shared', 'catalog', 'none', 'null',
]);

/**
 * Returns the id as a `TenantId` or throws `TENANT_ID_INVALID`.
 * A letter first, then lowercase letters, digits and `-`, 3 to 40 characters.
 */
export function parseTenantId(value: unknown): TenantId {
  if (typeof value !== 'string') {
    throw new TenancyError('TENANT_ID_INVALID', { params: { detail: 'it must be a string' } });
  }
  if (!slug.test(value)) {
    throw new TenancyError('TENANT_ID_INVALID', {
      params: {
        detail: 'use 3 to 40 characters: a lowercase letter first, then letters, digits or -',
      },
    });
  }
  if (value.endsWith('-') || value.includes('--')) {
    throw new TenancyError('TENANT_ID_INVALID', {
      params: { detail: 'a - may not end the id or follow another -' },
    });
  }
  if (reserved.has(value) || value.startsWith('pg-')) {
    throw new TenancyError('TENANT_ID_INVALID', { params: { detail: 'this name is reserved' } });
  }
  return value as TenantId;
}

export function isTenantId(value: unknown): value is TenantId {
  try {
    parseTenantId(value);
    return true;
  } catch {
    return false;
  }
}
