// `tenancy.tenants` and `tenancy.apiKeys`: the tenant lifecycle and tenant API keys as the
// library, CLI and admin API use them, each change audited.
import { ApiKeys, type ApiKeyInfo, type IssuedApiKey } from './access/api-keys.ts';
import {
  keyResource, tenantResource, type AuditContext, type AuditLog,
} from './access/audit-log.ts';
import {
  TenantLimits, type LimitChange, type TenantLimitsView,
} from './access/tenant-limits.ts';
import type { Isolation } from './config/schema.ts';
import { TenancyError } from './errors.ts';
import type { LogHook } from './log.ts';
import type { MoveOptions, MoveResult } from './residency/region-move.ts';
import type { Residency } from './residency/residency.ts';
import { parseTenantId, type TenantId } from './tenant-id.ts';
import type { Catalog, ListTenantsOptions, Tenant } from './tenants/catalog.ts';
import type { CreateTenantInput, TenantLifecycle } from './tenants/lifecycle.ts';
import type { DeletionRecord, TenantKeys } from './tenants/tenant-keys.ts';

export interface CreatedTenant {
  tenant: Tenant;
  apiKey: IssuedApiKey;
}

/** Where `tenants.move` takes a tenant: another region, or another isolation in its region. */
export type MoveTarget = { region: string } | { isolation: Isolation };

export interface DeleteOptions extends AuditContext {
  /** Destroy the tenant's encryption keys too (crypto-shredding). */
  shred?: boolean;
}

/** `tenancy.tenants`: the lifecycle, with an API key issued at creation. Changes are audited. */
export class TenantOperations {
  #residency: Residency | undefined;
  #defaultRegion = '';

  constructor(
    private readonly lifecycle: TenantLifecycle,
    private readonly catalog: Catalog,
    private readonly keys: ApiKeys,
    private readonly log: LogHook,
    private readonly audit: AuditLog,
    private readonly tenantLimits: TenantLimits,
    private readonly tenantKeys: TenantKeys,
  ) {}

  /** Wires the residency guard in; called once while Tenancy opens. */
  attachResidency(residency: Residency, defaultRegion: string): void {
    this.#residency = residency;
    this.#defaultRegion = defaultRegion;
  }

  /** Creates the tenant's storage in its isolation and region, and issues its first API key. */
  create(input: CreateTenantInput, context?: AuditContext): Promise<CreatedTenant> {
    const event = { ...context, action: 'tenant.create', tenantId: input.id,
      resource: tenantResource(input.id) };
    return this.audit.audited(event, async () => {
      const started = Date.now();
      // Refused before anything is written when the region's resources are another region's.
      await this.#residency?.route({ id: parseTenantId(input.id),
        region: input.region ?? this.#defaultRegion }, context);
      const tenant = await this.lifecycle.create(input);
      const apiKey = await this.keys.issue(tenant.id);
      this.log({
        level: 'info', event: 'tenant.created', tenantId: tenant.id, region: tenant.region,
        isolation: tenant.isolation, durationMs: Date.now() - started,
      });
      return { tenant, apiKey };
    }, ({ tenant, apiKey }) => ({
      detail: `${tenant.isolation} isolation in region ${tenant.region}; key ${apiKey.keyId}`,
    }));
  }

  get(id: string): Promise<Tenant> {
    return this.lifecycle.get(id);
  }

  /**
   * Moves the tenant to another region: copy (values sealed again under new keys made in the
   * target region), verify counts and checksums, switch the catalog, then destroy the source
   * copy, its keys and its archives. Each step is audited; a move cut short leaves the tenant
   * whole in one region, and the next move finishes or undoes it.
   *
   * With `{ isolation }` instead, it moves the tenant between isolations in its region: hold
   * writes, export, lay out the new isolation, import with checksums and check every envelope
   * opens, switch the catalog in one UPDATE, drop the old layout. Keys stay as they are.
   */
  move(id: string, target: MoveTarget, options: MoveOptions = {}): Promise<MoveResult> {
    if (this.#residency === undefined) return Promise.reject(new TenancyError('CLOSED'));
    if ('isolation' in target) return this.#residency.moveIsolation(id, target.isolation, options);
    return this.#residency.move(id, target.region, options);
  }

  list(options?: ListTenantsOptions): Promise<Tenant[]> {
    return this.catalog.list(options);
  }

  suspend(id: string, context?: AuditContext): Promise<Tenant> {
    return this.audit.audited(this.#event('tenant.suspend', id, context),
      () => this.lifecycle.suspend(id));
  }

  /**
   * Makes the tenant active again. A move a stopped process left open is undone or finished
   * first, so a resumed tenant is whole in one place and no move fence is left behind.
   */
  resume(id: string, context?: AuditContext): Promise<Tenant> {
    return this.audit.audited(this.#event('tenant.resume', id, context), async () => {
      await this.#residency?.recover(id, context);
      return this.lifecycle.resume(id);
    });
  }

  /**
   * Drops the tenant's data in its isolation and revokes its API keys; the id stays retired.
   * Its encryption keys stay, so a backup of it can still be restored.
   *
   * With `{ shred: true }` the encryption keys are destroyed first (crypto-shredding): every
   * copy of the tenant's data anywhere, in a dump or a backup, can no longer be decrypted. It
   * returns the deletion record. A tenant deleted earlier can be shredded later.
   */
  delete(id: string, options: DeleteOptions & { shred: true }): Promise<DeletionRecord>;
  delete(id: string, options?: DeleteOptions): Promise<Tenant>;
  delete(id: string, options: DeleteOptions = {}): Promise<Tenant | DeletionRecord> {
    const { shred, ...context } = options;
    if (shred === true) return this.#shred(id, context);
    return this.audit.audited(this.#event('tenant.delete', id, context), async () => {
      const tenant = await this.lifecycle.delete(id);
      await this.keys.revokeAll(tenant.id);
      this.log({ level: 'info', event: 'tenant.deleted', tenantId: tenant.id });
      return tenant;
    });
  }

  #shred(id: string, context: AuditContext): Promise<DeletionRecord> {
    return this.audit.audited(this.#event('tenant.shred', id, context), async () => {
      const current = await this.lifecycle.get(id);
      let destroyed: Awaited<ReturnType<TenantKeys['destroy']>> | undefined;
      const destroy = async (tenant: Tenant): Promise<void> => {
        destroyed = await this.tenantKeys.destroy(tenant);
      };
      const tenant = current.status === 'deleted'
        ? (await destroy(current), current)
        : await this.lifecycle.delete(id, destroy);
      await this.keys.revokeAll(tenant.id);
      this.log({ level: 'info', event: 'tenant.shredded', tenantId: tenant.id });
      const record = destroyed as NonNullable<typeof destroyed>;
      return {
        tenantId: tenant.id, region: tenant.region, shredded: true,
        deletedAt: record.destroyedAt, keyIds: record.keyIds,
      };
    }, (record) => ({ detail: `${record.keyIds.length} key(s) destroyed` }));
  }

  /** The limits in force for a tenant, and which of them it overrides. */
  async limits(id: string): Promise<TenantLimitsView> {
    const tenant = await this.lifecycle.get(id);
    return this.tenantLimits.view(tenant.id);
  }

  /** Overrides some of a tenant's limits; null puts a field back to the config's default. */
  setLimits(id: string, change: LimitChange, context?: AuditContext): Promise<TenantLimitsView> {
    return this.audit.audited(this.#event('tenant.limits', id, context), async () => {
      const tenant = await this.lifecycle.get(id);
      if (tenant.status === 'deleted') throw new TenancyError('TENANT_NOT_FOUND');
      return this.tenantLimits.set(tenant.id, change);
    }, () => ({ detail: `changed ${Object.keys(change).sort().join(', ') || 'nothing'}` }));
  }

  #event(action: string, id: string, context: AuditContext | undefined) {
    return { ...context, action, tenantId: id, resource: tenantResource(id) };
  }
}

/** `tenancy.apiKeys`: issue, revoke, list and authenticate tenant keys. */
export class ApiKeyOperations {
  constructor(
    private readonly keys: ApiKeys,
    private readonly lifecycle: TenantLifecycle,
    private readonly audit: AuditLog,
  ) {}

  issue(tenantId: string, context?: AuditContext): Promise<IssuedApiKey> {
    const event = { ...context, action: 'key.issue', tenantId,
      resource: tenantResource(tenantId) };
    return this.audit.audited(event, async () => {
      const tenant = await this.lifecycle.get(tenantId);
      if (tenant.status !== 'active' && tenant.status !== 'suspended') {
        throw new TenancyError('TENANT_NOT_FOUND');
      }
      return this.keys.issue(tenant.id);
    }, (key) => ({ resource: keyResource(key.keyId) }));
  }

  revoke(tenantId: string, keyId: string, context?: AuditContext): Promise<boolean> {
    const event = { ...context, action: 'key.revoke', tenantId, resource: keyResource(keyId) };
    return this.audit.audited(event, () => this.keys.revoke(parseTenantId(tenantId), keyId),
      (revoked) => (revoked ? {} : { outcome: 'failed', code: 'NOT_FOUND' }));
  }

  async list(tenantId: string): Promise<ApiKeyInfo[]> {
    return this.keys.list(parseTenantId(tenantId));
  }

  /** The tenant a bearer token belongs to; undefined for anything not a live key. */
  authenticate(token: string): Promise<TenantId | undefined> {
    return this.keys.verify(token);
  }
}
