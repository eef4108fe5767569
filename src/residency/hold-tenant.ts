// Holding a tenant's writes off before it is copied somewhere else (another region or isolation).
import { setTimeout as sleep } from 'node:timers/promises';
import { TenancyError } from '../errors.ts';
import type { RegionStorage } from '../storage/region.ts';
import { fenceTenantIn } from '../storage/tenant-fence.ts';
import type { TenantId } from '../tenant-id.ts';
import type { Catalog, Tenant } from '../tenants/catalog.ts';

export interface HoldParts {
  catalog: Pick<Catalog, 'transition'>;
  /** Drops what this process caches of the tenant (catalog row, keys). */
  forget(id: TenantId): Promise<void>;
}

/**
 * Suspends the tenant, then fences it off where it lives and waits out its sessions in flight
 * there, so nothing is written to the source once the copy begins; sessions of processes whose
 * cached catalog row still says active are refused by the fence. `settleMillis` (default 1100,
 * just over a cached catalog row's life) lets those caches expire as well.
 */
export async function holdTenant(parts: HoldParts, region: RegionStorage, tenant: Tenant,
  settleMillis = 1100): Promise<void> {
  if (tenant.status === 'active') {
    const held = await parts.catalog.transition(tenant.id, ['active'], 'suspended');
    if (held === undefined) {
      throw new TenancyError('TENANT_NOT_ACTIVE', { params: { status: 'changing' } });
    }
  }
  await parts.forget(tenant.id);
  await fenceTenantIn(region, tenant.isolation, tenant.id, 'moving');
  if (settleMillis > 0) await sleep(settleMillis);
}
