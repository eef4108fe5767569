// Tenant lifecycle: create, suspend, resume, delete, migrate; the catalog and placements in step.
import type { Isolation } from '../config/schema.ts';
import { TenancyError } from '../errors.ts';
import type { Migration } from '../storage/migrations.ts';
import { latestVersion } from '../storage/migrations.ts';
import type { RegionStorage } from '../storage/region.ts';
import { fenceTenantIn } from '../storage/tenant-fence.ts';
import { parseTenantId, type TenantId } from '../tenant-id.ts';
import type { Catalog, Tenant } from './catalog.ts';

export interface CreateTenantInput {
  id: string;
  displayName?: string | undefined;
  isolation?: Isolation | undefined;
  region?: string | undefined;
}

export interface LifecycleOptions {
  catalog: Catalog;
  regions: ReadonlyMap<string, RegionStorage>;
  migrations: readonly Migration[];
  defaultRegion: string;
  defaultIsolation: Isolation;
  /** Called whenever a tenant's status changes, so caches forget it. */
  onChange: (id: TenantId) => void;
  /** The tenant's keyring: made before its storage, removed again if the create fails. */
  keys?: {
    ensure(tenant: Tenant): Promise<void>;
    discard(tenant: Tenant): Promise<void>;
  };
}

export class TenantLifecycle {
  constructor(private readonly options: LifecycleOptions) {}

  region(name: string): RegionStorage {
    const region = this.options.regions.get(name);
    if (region === undefined) {
      throw new TenancyError('REGION_UNKNOWN', { params: { detail: name } });
    }
    return region;
  }

  /**
   * Records the tenant as `creating`, lays out its storage, then marks it `active`. If laying
   * out fails, what was made is removed and the id is released again.
   */
  async create(input: CreateTenantInput): Promise<Tenant> {
    const id = parseTenantId(input.id);
    const isolation = input.isolation ?? this.options.defaultIsolation;
    const regionName = input.region ?? this.options.defaultRegion;
    const placement = this.region(regionName).placement(isolation);
    const displayName = (input.displayName ?? id).slice(0, 200);
    const creating = await this.options.catalog.insert({
      id, displayName, region: regionName, isolation,
    });
    try {
      await this.options.keys?.ensure(creating);
      const version = await placement.create(id, this.options.migrations);
      await this.options.catalog.setSchemaVersion(id, version);
    } catch (err) {
      await placement.drop(id).catch(() => {});
      await this.options.keys?.discard(creating).catch(() => {});
      await this.options.catalog.forget(id);
      throw err;
    }
    const tenant = await this.options.catalog.transition(id, ['creating'], 'active');
    // A lookup made before the tenant existed may be cached as "unknown"; records about the
    // new tenant must find its region, not fall back to the catalog's.
    this.options.onChange(id);
    if (tenant === undefined) throw new TenancyError('INTERNAL', { tenantId: id });
    return tenant;
  }

  async get(id: string): Promise<Tenant> {
    const tenant = await this.options.catalog.get(parseTenantId(id));
    if (tenant === undefined) throw new TenancyError('TENANT_NOT_FOUND');
    return tenant;
  }

  suspend(id: string): Promise<Tenant> {
    return this.#transition(id, ['active', 'suspended'], 'suspended');
  }

  resume(id: string): Promise<Tenant> {
    return this.#transition(id, ['active', 'suspended'], 'active');
  }

  /**
   * Drops every table and row of the tenant in its isolation and keeps the catalog row as
   * `deleted`, so the id is never handed to someone else. A delete that died half way resumes.
   * Sessions already running when the delete begins are waited out first (and later ones are
   * refused, even by processes whose cached catalog row still says active), so none of them
   * writes a row after the drop. `beforeDrop` runs once no session can start any more and
   * before the data goes (a shred destroys the keys there, so even a drop that fails leaves
   * nothing readable).
   */
  async delete(id: string, beforeDrop?: (tenant: Tenant) => Promise<void>): Promise<Tenant> {
    const tenant = await this.#transition(id, ['active', 'suspended', 'deleting', 'creating'],
      'deleting');
    await fenceTenantIn(this.region(tenant.region), tenant.isolation, tenant.id, 'deleted');
    await beforeDrop?.(tenant);
    await this.region(tenant.region).placement(tenant.isolation).drop(tenant.id);
    const deleted = await this.options.catalog.transition(tenant.id, ['deleting'], 'deleted');
    this.options.onChange(tenant.id);
    return deleted ?? tenant;
  }

  /** Brings every tenant of every region to the latest migration; current ones are skipped. */
  async migrateAll(): Promise<{ migrated: TenantId[] }> {
    const latest = latestVersion(this.options.migrations);
    const migrated: TenantId[] = [];
    for (const [name, region] of this.options.regions) {
      for (const tenant of await this.options.catalog.behind(name, latest)) {
        const placement = region.placement(tenant.isolation);
        const version = await placement.migrate(tenant.id, this.options.migrations);
        await this.options.catalog.setSchemaVersion(tenant.id, version);
        migrated.push(tenant.id);
      }
    }
    return { migrated };
  }

  async #transition(
    id: string,
    from: Parameters<Catalog['transition']>[1],
    to: Parameters<Catalog['transition']>[2],
  ): Promise<Tenant> {
    const tenantId = parseTenantId(id);
    const tenant = await this.options.catalog.transition(tenantId, from, to);
    this.options.onChange(tenantId);
    if (tenant !== undefined) return tenant;
    const current = await this.options.catalog.get(tenantId);
    if (current === undefined || current.status === 'deleted') {
      throw new TenancyError('TENANT_NOT_FOUND');
    }
    throw new TenancyError('TENANT_NOT_ACTIVE', { params: { status: current.status } });
  }
}
