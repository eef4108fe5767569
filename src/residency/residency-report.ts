// The residency report: for each tenant, where its rows, keys and backups really are, and what
// is out of place. Built from what the servers and stores hold, never from the config.
import type { Tenant } from '../tenants/catalog.ts';
import type { Place } from './inspect-region.ts';

export type { Place, PlaceKind } from './inspect-region.ts';

/** Something out of place, or missing from where it should be. */
export interface ResidencyFinding {
  tenantId: string;
  region: string;
  kind: Place['kind'] | 'missing';
  where: string;
  problem: 'outside-region' | 'stray-copy' | 'deleted-tenant-data' | 'unknown-tenant' |
    'missing-keys' | 'missing-storage' | 'shared-resource';
}

export interface TenantResidency {
  tenantId: string;
  /** The region the tenant is pinned to. */
  region: string;
  isolation: Tenant['isolation'];
  status: Tenant['status'];
  places: Place[];
  findings: ResidencyFinding[];
}

export interface ResidencyReport {
  ok: boolean;
  /** The regions looked at. */
  regions: string[];
  tenants: TenantResidency[];
  /** Things of tenants the catalog does not know, and region-level faults. */
  findings: ResidencyFinding[];
  at: Date;
}

export interface JudgeInput {
  tenants: readonly Tenant[];
  places: readonly Place[];
  catalogRegion: string;
  /** Regions each tenant left by a finished move: its old audit records stay there. */
  left: ReadonlyMap<string, ReadonlySet<string>>;
  regions: readonly string[];
  /** Only this tenant, when the report was asked for one. */
  only?: string | undefined;
}

function problemOf(place: Place, tenant: Tenant, input: JudgeInput):
  ResidencyFinding['problem'] | undefined {
  if (place.kind === 'catalog') {
    return place.region === input.catalogRegion ? undefined : 'outside-region';
  }
  if (place.region !== tenant.region) {
    // The audit log is append-only: records written before a move stay where they were.
    const history = place.kind === 'audit' || place.kind === 'record';
    if (history && input.left.get(tenant.id)?.has(place.region) === true) return undefined;
    return 'outside-region';
  }
  if (place.kind === 'rows') {
    if (tenant.status === 'deleted' && place.count > 0) return 'deleted-tenant-data';
    if (place.isolation !== undefined && place.isolation !== tenant.isolation &&
      (place.count > 0 || place.isolation !== 'row')) {
      return 'stray-copy';
    }
  }
  return undefined;
}

/** Compares what was found with where each tenant must be. */
export function judge(input: JudgeInput): ResidencyReport {
  const byId = new Map(input.tenants.map((t) => [t.id as string, t]));
  const tenants = new Map<string, TenantResidency>();
  for (const tenant of input.tenants) {
    if (input.only !== undefined && tenant.id !== input.only) continue;
    tenants.set(tenant.id, { tenantId: tenant.id, region: tenant.region,
      isolation: tenant.isolation, status: tenant.status, places: [], findings: [] });
  }
  const orphans: ResidencyFinding[] = [];
  for (const place of input.places) {
    if (input.only !== undefined && place.tenantId !== input.only) continue;
    const tenant = byId.get(place.tenantId);
    if (tenant === undefined) {
      if (place.kind !== 'audit') {
        orphans.push({ tenantId: place.tenantId, region: place.region, kind: place.kind,
          where: place.where, problem: 'unknown-tenant' });
      }
      continue;
    }
    const entry = tenants.get(tenant.id) as TenantResidency;
    entry.places.push(place);
    const problem = problemOf(place, tenant, input);
    if (problem !== undefined) {
      entry.findings.push({ tenantId: tenant.id, region: place.region, kind: place.kind,
        where: place.where, problem });
    }
  }
  for (const entry of tenants.values()) {
    if (entry.status !== 'active' && entry.status !== 'suspended') continue;
    const home = entry.places.filter((p) => p.region === entry.region);
    if (!home.some((p) => p.kind === 'keys')) {
      entry.findings.push({ tenantId: entry.tenantId, region: entry.region, kind: 'missing',
        where: 'tenancy_keys.keyrings', problem: 'missing-keys' });
    }
    if (entry.isolation !== 'row' &&
      !home.some((p) => p.kind === 'rows' && p.isolation === entry.isolation)) {
      entry.findings.push({ tenantId: entry.tenantId, region: entry.region, kind: 'missing',
        where: entry.isolation, problem: 'missing-storage' });
    }
  }
  const list = [...tenants.values()].sort((a, b) => a.tenantId.localeCompare(b.tenantId));
  for (const entry of list) {
    entry.places.sort((a, b) => a.region.localeCompare(b.region) || a.kind.localeCompare(b.kind)
      || a.where.localeCompare(b.where));
  }
  const ok = orphans.length === 0 && list.every((t) => t.findings.length === 0);
  return { ok, regions: [...input.regions], tenants: list, findings: orphans, at: new Date() };
}
