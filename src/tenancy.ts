// The facade: Tenancy.open(config) wires config, regions, catalog, keys and sessions together.
import { resolve } from 'node:path';
import { ApiKeys, type ApiKeyInfo, type IssuedApiKey } from './access/api-keys.ts';
import { isParsedConfig, parseConfig } from './config/load.ts';
import type { ConfigInput, TenancyConfig } from './config/schema.ts';
import { TenancyError } from './errors.ts';
import { silent, type LogHook } from './log.ts';
import { DataFolderLock } from './storage/data-folder-lock.ts';
import { checkMigrations, latestVersion, type Migration } from './storage/migrations.ts';
import { RegionStorage } from './storage/region.ts';
import { runSession, type TenantSession } from './storage/session.ts';
import { ConversationStore } from './stores/conversations.ts';
import { DocumentStore } from './stores/documents.ts';
import { builtinMigrations } from './stores/model-migrations.ts';
import { parseTenantId, type TenantId } from './tenant-id.ts';
import { Catalog, type ListTenantsOptions, type Tenant } from './tenants/catalog.ts';
import { TenantLifecycle, type CreateTenantInput } from './tenants/lifecycle.ts';
import { TenantCache } from './tenants/tenant-cache.ts';

export interface OpenOptions {
  /** Tenant-table migrations; defaults to the built-in model. Append to extend it. */
  migrations?: readonly Migration[];
  log?: LogHook;
  /** Named in an embedded data folder's lock file, so a second process can say who holds it. */
  command?: string;
  /** Apply pending tenant migrations while opening (default true). */
  migrate?: boolean;
}

/** What `withTenant` hands to its callback: stores and SQL bound to one tenant. */
export interface TenantScope {
  readonly tenantId: TenantId;
  readonly conversations: ConversationStore;
  readonly documents: DocumentStore;
  readonly session: TenantSession;
}

export interface CreatedTenant {
  tenant: Tenant;
  apiKey: IssuedApiKey;
}

export class Tenancy {
  readonly config: TenancyConfig;
  readonly tenants: TenantOperations;
  readonly apiKeys: ApiKeyOperations;
  readonly #regions: Map<string, RegionStorage>;
  readonly #lifecycle: TenantLifecycle;
  readonly #cache: TenantCache;
  readonly #lock: DataFolderLock | undefined;
  readonly #log: LogHook;
  readonly migrations: readonly Migration[];
  #closed = false;

  private constructor(parts: {
    config: TenancyConfig;
    regions: Map<string, RegionStorage>;
    catalog: Catalog;
    keys: ApiKeys;
    lock: DataFolderLock | undefined;
    migrations: readonly Migration[];
    log: LogHook;
  }) {
    this.config = parts.config;
    this.#regions = parts.regions;
    this.#lock = parts.lock;
    this.#log = parts.log;
    this.migrations = parts.migrations;
    this.#cache = new TenantCache((id) => parts.catalog.get(id));
    const regionNames = [...parts.regions.keys()];
    this.#lifecycle = new TenantLifecycle({
      catalog: parts.catalog,
      regions: parts.regions,
      migrations: parts.migrations,
      defaultRegion: parts.config.defaultRegion ?? (regionNames[0] as string),
      defaultIsolation: parts.config.defaultIsolation,
      onChange: (id) => this.#cache.forget(id),
    });
    this.tenants = new TenantOperations(this.#lifecycle, parts.catalog, parts.keys, parts.log);
    this.apiKeys = new ApiKeyOperations(parts.keys, this.#lifecycle);
  }

  /**
   * Opens every configured region, prepares the catalog and brings tenants to the latest
   * migration. With no config: one region `local` on PGlite under `./.tenancy`.
   */
  static async open(config?: ConfigInput | TenancyConfig, options: OpenOptions = {}):
    Promise<Tenancy> {
    const parsed = isParsedConfig(config) ? config : parseConfig(config ?? {});
    const migrations = options.migrations ?? builtinMigrations;
    checkMigrations(migrations);
    const dataDir = resolve(parsed.dataDir);
    const embedded = Object.values(parsed.regions).some((r) => r.database === 'embedded');
    const lock = embedded
      ? DataFolderLock.acquire(dataDir, options.command ?? 'library')
      : undefined;
    const regions = new Map<string, RegionStorage>();
    try {
      for (const [name, regionConfig] of Object.entries(parsed.regions)) {
        regions.set(name, new RegionStorage(name, regionConfig, dataDir));
      }
      for (const region of regions.values()) await region.open(migrations);
      const catalogRegion = parsed.catalogRegion ?? (regions.keys().next().value as string);
      const catalogDb = (regions.get(catalogRegion) as RegionStorage).driver.shared;
      const catalog = new Catalog(catalogDb);
      await catalog.prepare();
      const keys = new ApiKeys(catalogDb);
      await keys.prepare();
      const tenancy = new Tenancy({
        config: parsed, regions, catalog, keys, lock, migrations, log: options.log ?? silent,
      });
      if (options.migrate !== false) await tenancy.migrate();
      return tenancy;
    } catch (err) {
      await Promise.allSettled([...regions.values()].map((region) => region.close()));
      lock?.release();
      throw err;
    }
  }

  /**
   * Runs `fn` in one session of the tenant: one transaction, as the runtime role, with the
   * tenant bound by `set_config(…, true)`. Commits when `fn` resolves, rolls back when it throws.
   *
   * @example
   * await tenancy.withTenant('acme', (t) => t.conversations.get('c-1'));
   * // BEGIN; SELECT set_config('tenancy.tenant_id', 'acme', true);
   * // SELECT … FROM "tenancy_rows"."conversations" WHERE id = $1; COMMIT
   */
  async withTenant<T>(
    id: string,
    fn: (scope: TenantScope) => Promise<T>,
    options: { signal?: AbortSignal } = {},
  ): Promise<T> {
    if (this.#closed) throw new TenancyError('CLOSED');
    const tenant = await this.#activeTenant(parseTenantId(id));
    const region = this.#lifecycle.region(tenant.region);
    const storage = region.placement(tenant.isolation).locate(tenant.id);
    return runSession(storage, tenant.id, (session) => fn({
      tenantId: tenant.id,
      session,
      conversations: new ConversationStore(session),
      documents: new DocumentStore(session),
    }), options);
  }

  /** Applies pending migrations to every tenant that lacks them. */
  async migrate(): Promise<{ migrated: TenantId[]; version: number }> {
    const { migrated } = await this.#lifecycle.migrateAll();
    if (migrated.length > 0) {
      this.#log({ level: 'info', event: 'migrated', count: migrated.length });
    }
    return { migrated, version: latestVersion(this.migrations) };
  }

  /** The region storage a tenant lives in; used by operations that work below the stores. */
  regionOf(tenant: Tenant): RegionStorage {
    return this.#lifecycle.region(tenant.region);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#regions.values()].map((region) => region.close()));
    this.#lock?.release();
  }

  async #activeTenant(id: TenantId): Promise<Tenant> {
    const tenant = await this.#cache.get(id);
    if (tenant === undefined || tenant.status === 'deleted' || tenant.status === 'deleting' ||
      tenant.status === 'creating') {
      throw new TenancyError('TENANT_NOT_FOUND');
    }
    if (tenant.status === 'suspended') throw new TenancyError('TENANT_SUSPENDED', { tenantId: id });
    return tenant;
  }
}

/** `tenancy.tenants`: the lifecycle, with an API key issued at creation. */
export class TenantOperations {
  constructor(
    private readonly lifecycle: TenantLifecycle,
    private readonly catalog: Catalog,
    private readonly keys: ApiKeys,
    private readonly log: LogHook,
  ) {}

  /** Creates the tenant's storage in its isolation and region, and issues its first API key. */
  async create(input: CreateTenantInput): Promise<CreatedTenant> {
    const started = Date.now();
    const tenant = await this.lifecycle.create(input);
    const apiKey = await this.keys.issue(tenant.id);
    this.log({
      level: 'info', event: 'tenant.created', tenantId: tenant.id, region: tenant.region,
      isolation: tenant.isolation, durationMs: Date.now() - started,
    });
    return { tenant, apiKey };
  }

  get(id: string): Promise<Tenant> {
    return this.lifecycle.get(id);
  }

  list(options?: ListTenantsOptions): Promise<Tenant[]> {
    return this.catalog.list(options);
  }

  suspend(id: string): Promise<Tenant> {
    return this.lifecycle.suspend(id);
  }

  resume(id: string): Promise<Tenant> {
    return this.lifecycle.resume(id);
  }

  /** Drops the tenant's data in its isolation and revokes its keys; the id stays retired. */
  async delete(id: string): Promise<Tenant> {
    const tenant = await this.lifecycle.delete(id);
    await this.keys.revokeAll(tenant.id);
    this.log({ level: 'info', event: 'tenant.deleted', tenantId: tenant.id });
    return tenant;
  }
}

/** `tenancy.apiKeys`: issue, revoke, list and authenticate tenant keys. */
export class ApiKeyOperations {
  constructor(private readonly keys: ApiKeys, private readonly lifecycle: TenantLifecycle) {}

  async issue(tenantId: string): Promise<IssuedApiKey> {
    const tenant = await this.lifecycle.get(tenantId);
    if (tenant.status !== 'active' && tenant.status !== 'suspended') {
      throw new TenancyError('TENANT_NOT_FOUND');
    }
    return this.keys.issue(tenant.id);
  }

  async revoke(tenantId: string, keyId: string): Promise<boolean> {
    return this.keys.revoke(parseTenantId(tenantId), keyId);
  }

  async list(tenantId: string): Promise<ApiKeyInfo[]> {
    return this.keys.list(parseTenantId(tenantId));
  }

  /** The tenant a bearer token belongs to; undefined for anything not a live key. */
  authenticate(token: string): Promise<TenantId | undefined> {
    return this.keys.verify(token);
  }
}
