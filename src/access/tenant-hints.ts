// Where a request names a tenant by itself (header, query, body, host): never obeyed, only audited.
import { isIP } from 'node:net';

export interface RequestParts {
  headers: Record<string, string | string[] | undefined>;
  query: unknown;
  body: unknown;
  /** The Host header, port and all. */
  host: string | undefined;
}

export interface TenantHint {
  source: 'header' | 'query' | 'body' | 'host';
  field: string;
  value: string;
}

const headerFields = ['x-tenant-id'];
const queryFields = ['tenant', 'tenantId'];
const bodyFields = ['tenantId', 'tenant_id'];

function values(raw: unknown): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  return list.filter((v): v is string | number => typeof v === 'string' || typeof v === 'number')
    .map(String).filter((v) => v !== '').slice(0, 10);
}

function fieldsOf(record: unknown, names: readonly string[], source: TenantHint['source']):
  TenantHint[] {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return [];
  const out: TenantHint[] = [];
  for (const field of names) {
    if (!Object.hasOwn(record, field)) continue;
    for (const value of values((record as Record<string, unknown>)[field])) {
      out.push({ source, field, value });
    }
  }
  return out;
}

/**
 * The first label of a host name with at least three labels (`acme.api.example.com` → `acme`).
 * An IP address or a bare name (`localhost`) names no tenant.
 */
export function hostLabel(host: string | undefined): string | undefined {
  if (host === undefined || host === '') return undefined;
  const name = host.startsWith('[') ? host : host.replace(/:\d*$/, '');
  if (name.startsWith('[') || isIP(name) !== 0) return undefined;
  const labels = name.toLowerCase().replace(/\.$/, '').split('.');
  return labels.length >= 3 ? labels[0] : undefined;
}

/** Every tenant the request names outside its credentials. */
export function tenantHints(parts: RequestParts): TenantHint[] {
  const hints = [
    ...fieldsOf(parts.headers, headerFields, 'header'),
    ...fieldsOf(parts.query, queryFields, 'query'),
    ...fieldsOf(parts.body, bodyFields, 'body'),
  ];
  const label = hostLabel(parts.host);
  if (label !== undefined) hints.push({ source: 'host', field: 'host', value: label });
  return hints;
}
