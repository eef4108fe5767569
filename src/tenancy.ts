// The facade: Tenancy.open(config) wires config, regions, catalog, keys and sessions together.
import { resolve } from 'node:path';
import { ApiKeys } from './access/api-keys.ts';
import { AuditLog, type AuditActor, type AuditContext } from './access/audit-log.ts';
import { TenantLimits } from './access/tenant-limits.ts';
import { doctorRegions, runDoctor } from './access/doctor/doctor.ts';
import type { DoctorReport } from './access/doctor/types.ts';
import { BackupOperations } from './backup/backup-operations.ts';
import { isParsedConfig, parseConfig } from './config/load.ts';
import type { ConfigInput, RegionConfig, TenancyConfig } from './config/schema.ts';
import { DeclaredCrypto } from './crypto/declared-crypto.ts';
import { EncryptedFields, type EncryptedField } from './crypto/encrypted-fields.ts';
import type { KeyProvider } from './crypto/key-provider.ts';
import { TenancyError } from './errors.ts';
import { KeyOperations, openTenantKeys } from './key-operations.ts';
import { silent, type LogHook } from './log.ts';
import { DataFolderLock } from './storage/data-folder-lock.ts';
import type { Database } from './storage/driver.ts';
import { checkMigrations, latestVersion, type Migration } from './storage/migrations.ts';
import { RegionStorage } from './storage/region.ts';
import { Residency } from './residency/residency.ts';
import { BlobStorePlaces, storeLocation } from './residency/backup-places.ts';
import { runSession, type TenantSession } from './storage/session.ts';
import { ConversationStore } from './stores/conversations.ts';
import { DocumentStore } from './stores/documents.ts';
import { DocumentVectors } from './stores/document-vectors.ts';
import { builtinMigrations } from './stores/model-migrations.ts';
import { parseTenantId, type TenantId } from './tenant-id.ts';
import { Catalog, type Tenant } from './tenants/catalog.ts';
import { TenantLifecycle } from './tenants/lifecycle.ts';
import { TenantCache } from './tenants/tenant-cache.ts';
import type { TenantKeys } from './tenants/tenant-keys.ts';
import { ApiKeyOperations, TenantOperations } from './tenant-operations.ts';
import { createJobQueue } from './jobs/create-queue.ts';
import { Jobs } from './jobs/jobs.ts';

export interface OpenOptions {
  /** Tenant-table migrations; defaults to the built-in model. Append to extend it. */
  migrations?: readonly Migration[];
  log?: LogHook;
  /** Named in an embedded data folder's lock file, so a second process can say who holds it. */
  command?: string;
  /** Apply pending tenant migrations while opening (default true). */
  migrate?: boolean;
  /** Who the audit log names for operations that name no actor (default `system`). */
  actor?: AuditActor;
  /**
   * Columns of your own tables that hold envelopes, sealed and opened through `scope.crypto`
   * and covered by `keys reencrypt` and `keys retire`, like the built-in ones.
   */
  encryptedFields?: readonly EncryptedField[];
  /** Key providers by region name, in place of the configured ones (yours, or a test's). */
  keyProviders?: Readonly<Record<string, KeyProvider>>;
}

/** What `withTenant` hands to its callback: stores and SQL bound to one tenant. */
export interface TenantScope {
  readonly tenantId: TenantId;
  readonly conversations: ConversationStore;
  readonly documents: DocumentStore;
  /** Embeddings of the documents and nearest-neighbour search over them. */
  readonly vectors: DocumentVectors;
  readonly session: TenantSession;
  /** Seal and open values of the declared encrypted fields under the tenant's keys. */
  readonly crypto: DeclaredCrypto;
}

export class Tenancy {
  readonly config: TenancyConfig;
  readonly tenants: TenantOperations;
  readonly apiKeys: ApiKeyOperations;
  /** The append-only audit log: `record` events of your own, `list` to read them back. */
  readonly audit: AuditLog;
  /** Per-tenant limits: the config's defaults and each tenant's overrides. */
  readonly limits: TenantLimits;
  /** Background jobs that carry their tenant and run in its scope. */
  readonly jobs: Jobs<TenantScope>;
  /** Tenant encryption keys: status, rotation, re-encryption, retirement, root rotation. */
  readonly keys: KeyOperations;
  /** Per-tenant archives in each region's blob store: create, list, verify, restore, clone. */
  readonly backups: BackupOperations<AuditContext>;
  readonly #tenantKeys: TenantKeys;
  readonly #fields: EncryptedFields;
  readonly #regions: Map<string, RegionStorage>;
  readonly #lifecycle: TenantLifecycle;
  readonly #cache: TenantCache;
  readonly #lock: DataFolderLock | undefined;
  readonly #log: LogHook;
  readonly migrations: readonly Migration[];
  #residency: Residency | undefined;
  #closed = false;

  private constructor(parts: {
    config: TenancyConfig;
    regions: Map<string, RegionStorage>;
    catalog: Catalog;
    keys: ApiKeys;
    lock: DataFolderLock | undefined;
    migrations: readonly Migration[];
    log: LogHook;
    catalogRegion: string;
    catalogDb: Database;
    actor: AuditActor;
    tenantKeys: TenantKeys;
    fields: EncryptedFields;
  }) {
    this.config = parts.config;
    this.#tenantKeys = parts.tenantKeys;
    this.#fields = parts.fields;
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
      onChange: (id) => {
        this.#cache.forget(id);
        void parts.tenantKeys.forget(id);
      },
      keys: parts.tenantKeys,
    });
    const shared = new Map([...parts.regions].map(([name, r]) => [name, r.driver.shared]));
    const runtimeRole = (name: string): string =>
      (parts.regions.get(name) as RegionStorage).driver.runtimeRole;
    this.audit = new AuditLog({
      regions: shared, catalogRegion: parts.catalogRegion, runtimeRole, log: parts.log,
      defaultActor: parts.actor,
      regionOf: async (id) => (await this.#cache.get(id))?.region,
    });
    this.limits = new TenantLimits(parts.catalogDb, parts.config.limits);
    this.jobs = new Jobs<TenantScope>({
      adapter: createJobQueue(parts.config.jobs, {
        regions: shared, runtimeRole,
        onError: () => parts.log({ level: 'error', event: 'jobs.queue_unreachable' }),
      }),
      regionOf: async (id) => {
        const tenant = await this.#cache.get(id);
        if (tenant?.status !== 'active' && tenant?.status !== 'suspended') return undefined;
        // A job carries the tenant's payload: it is queued only where the tenant's data may be.
        await this.residency.route(tenant);
        return tenant.region;
      },
      runAsTenant: (id, fn) => this.withTenant(id, fn),
      log: parts.log,
    });
    this.tenants = new TenantOperations(this.#lifecycle, parts.catalog, parts.keys, parts.log,
      this.audit, this.limits, parts.tenantKeys);
    this.keys = new KeyOperations({
      keys: parts.tenantKeys,
      fields: parts.fields,
      audit: this.audit,
      tenant: async (id) => {
        const tenant = await this.#lifecycle.get(id);
        await this.residency.route(tenant);
        return tenant;
      },
      session: async (tenant, fn) => runSession((await this.residency.route(tenant))
        .placement(tenant.isolation).locate(tenant.id), tenant.id, fn),
    });
    this.apiKeys = new ApiKeyOperations(parts.keys, this.#lifecycle, this.audit);
    this.backups = new BackupOperations<AuditContext>({
      dataDir: resolve(parts.config.dataDir),
      stores: Object.fromEntries(Object.entries(parts.config.regions)
        .map(([name, region]) => [name, region.backups])),
      fields: parts.fields.all,
      tenant: (id) => this.#lifecycle.get(id),
      storage: async (tenant) => (await this.residency.route(tenant))
        .placement(tenant.isolation).locate(tenant.id),
      cipher: async (tenant) => parts.tenantKeys.cipher(await this.#lifecycle.get(tenant.id)),
      requireRegion: (check, context) => this.residency.require({ ...context, ...check,
        what: 'backups' }),
      createTenant: (input, context) => this.tenants.create(input, context),
      suspend: (id, context) => this.tenants.suspend(id, context),
      resume: (id, context) => this.tenants.resume(id, context),
      deleteTenant: (id, context) => this.tenants.delete(id, context),
      audited: (event, work, after) => this.audit.audited(event, work, after),
    });
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
    const fields = new EncryptedFields(options.encryptedFields);
    const dataDir = resolve(parsed.dataDir);
    const embedded = Object.values(parsed.regions).some((r) => r.database === 'embedded');
    const lock = embedded
      ? DataFolderLock.acquire(dataDir, options.command ?? 'library')
      : undefined;
    const regions = new Map<string, RegionStorage>();
    let tenantKeys: TenantKeys | undefined;
    try {
      for (const [name, regionConfig] of Object.entries(parsed.regions)) {
        regions.set(name, new RegionStorage(name, regionConfig, dataDir));
      }
      for (const region of regions.values()) await region.open(migrations);
      tenantKeys = await openTenantKeys(parsed, regions, dataDir, options.keyProviders);
      const catalogRegion = parsed.catalogRegion ?? (regions.keys().next().value as string);
      const catalogDb = (regions.get(catalogRegion) as RegionStorage).driver.shared;
      const catalog = new Catalog(catalogDb);
      await catalog.prepare();
      const keys = new ApiKeys(catalogDb);
      await keys.prepare();
      const tenancy = new Tenancy({
        config: parsed, regions, catalog, keys, lock, migrations, log: options.log ?? silent,
        catalogRegion, catalogDb, actor: options.actor ?? { kind: 'system' }, tenantKeys, fields,
      });
      await tenancy.audit.prepare();
      tenancy.#residency = await Residency.open({
        config: parsed, dataDir, catalog, catalogDb, catalogRegion, regions, keys: tenantKeys,
        fields: fields.all, migrations, audit: tenancy.audit,
        forget: async (id) => {
          tenancy.#cache.forget(id);
          await tenantKeys?.forget(id);
        },
        // The report and moves see each region's archives through its own blob store.
        backups: new Map([...regions.keys()].map((name) => [name, new BlobStorePlaces(name,
          storeLocation((parsed.regions[name] as RegionConfig).backups, dataDir, name),
          () => tenancy.backups.store(name))])),
      });
      tenancy.tenants.attachResidency(tenancy.#residency,
        parsed.defaultRegion ?? (regions.keys().next().value as string));
      await tenancy.limits.prepare();
      await tenancy.jobs.adapter.prepare();
      if (options.migrate !== false) await tenancy.#migrate(undefined, true);
      return tenancy;
    } catch (err) {
      await tenantKeys?.close();
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
    const region = await this.residency.route(tenant);
    const storage = region.placement(tenant.isolation).locate(tenant.id);
    const { statementTimeoutMillis } = await this.limits.of(tenant.id);
    const cipher = await this.#tenantKeys.cipher(tenant);
    const fields = this.#fields;
    const vectorDefaults = this.config.vectors;
    return runSession(storage, tenant.id, (session) => fn({
      tenantId: tenant.id,
      session,
      conversations: new ConversationStore(session, cipher),
      documents: new DocumentStore(session, cipher),
      crypto: new DeclaredCrypto(cipher, fields),
      get vectors() {
        return new DocumentVectors(session, this.documents, vectorDefaults);
      },
    }), { ...options, statementTimeoutMillis });
  }

  /** Applies pending migrations to every tenant that lacks them. */
  migrate(context?: AuditContext): Promise<{ migrated: TenantId[]; version: number }> {
    return this.#migrate(context, false);
  }

  // The migration run by open() is audited only when it changed something.
  async #migrate(context: AuditContext | undefined, onOpen: boolean):
    Promise<{ migrated: TenantId[]; version: number }> {
    return this.audit.audited({ ...context, action: 'migrate' }, async () => {
      const { migrated } = await this.#lifecycle.migrateAll();
      if (migrated.length > 0) {
        this.#log({ level: 'info', event: 'migrated', count: migrated.length });
      }
      return { migrated, version: latestVersion(this.migrations) };
    }, (done) => onOpen && done.migrated.length === 0 ? null : {
      resource: `version:${done.version}`,
      detail: `${done.migrated.length} tenant(s) migrated`,
    });
  }

  /**
   * Inspects the live deployment for isolation faults: row-level security on every tenant table
   * of every layout, the runtime role, views, SECURITY DEFINER functions, tenant indexes,
   * privileges and the server version. Reads only; `ok` is false when anything is wrong.
   */
  async doctor(): Promise<DoctorReport> {
    if (this.#closed) throw new TenancyError('CLOSED');
    return runDoctor(await doctorRegions(this.#regions, (options) => this.tenants.list(options)));
  }

  /**
   * Data residency: the guard (`require`), the residency report and region moves. Every
   * tenant resource handed out passes `route`, which refuses a region whose resources are
   * another region's.
   */
  get residency(): Residency {
    if (this.#residency === undefined) throw new TenancyError('CLOSED');
    return this.#residency;
  }

  /** The region storage a tenant lives in; used by operations that work below the stores. */
  regionOf(tenant: Tenant): RegionStorage {
    return this.#lifecycle.region(tenant.region);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Workers stop and queued audit events are written while the databases are still open.
    await this.jobs.close().catch(() => undefined);
    await this.audit.close().catch(() => undefined);
    await this.backups.close();
    await this.#tenantKeys.close();
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
