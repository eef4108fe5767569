// `tenancy.keys`: a tenant's encryption keys for operators: status, rotate, re-encrypt, retire.
import { tenantResource, type AuditContext, type AuditLog } from './access/audit-log.ts';
import type { TenancyConfig } from './config/schema.ts';
import type { EncryptedFields } from './crypto/encrypted-fields.ts';
import type { KeyProvider } from './crypto/key-provider.ts';
import { createKeyProvider } from './crypto/providers/index.ts';
import { TenancyError } from './errors.ts';
import type { RegionStorage } from './storage/region.ts';
import type { TenantSession } from './storage/session.ts';
import type { Tenant } from './tenants/catalog.ts';
import { valuesByVersion } from './tenants/key-usage.ts';
import { KeyringStore, type Checkpoint } from './tenants/keyring-store.ts';
import { reencrypt, type ReencryptProgress } from './tenants/reencrypt.ts';
import {
  TenantKeys, type KeyringStatus, type RegionKeys, type RootRotation,
} from './tenants/tenant-keys.ts';

export type { KeyringStatus, ReencryptProgress, RootRotation };

/** A keyring's status plus how many values each data key version still seals. */
export interface KeyStatus extends KeyringStatus {
  /** Values per data key version, e.g. `{ "1": 40, "2": 120 }`; empty for a deleted tenant. */
  valuesByVersion: Record<string, number>;
  /** The last re-encryption run, finished or not. */
  reencrypt: Omit<Checkpoint, 'afterId'> | null;
}

export interface ReencryptOptions {
  onProgress?: (progress: ReencryptProgress) => void;
  signal?: AbortSignal;
  /** Rows per transaction (default 200). */
  batchSize?: number;
}

/** Where a value lives, as its envelope is bound to it. */
export interface ValuePlace {
  table: string;
  column: string;
  rowId: string | number | bigint;
}

/**
 * Opens the key provider and keyring tables of every region. `overrides` replaces a region's
 * configured provider (a test double, or a provider of the application's own).
 */
export async function openTenantKeys(config: TenancyConfig,
  regions: ReadonlyMap<string, RegionStorage>, dataDir: string,
  overrides: Readonly<Record<string, KeyProvider>> = {}): Promise<TenantKeys> {
  const opened = new Map<string, RegionKeys>();
  try {
    for (const [name, region] of regions) {
      const regionConfig = config.regions[name];
      if (regionConfig === undefined) throw new TenancyError('REGION_UNKNOWN');
      const provider = overrides[name] ??
        await createKeyProvider(regionConfig.keys, { dataDir, region: name });
      opened.set(name, { region: name, provider, store: new KeyringStore(region.driver.shared) });
    }
    for (const region of opened.values()) await region.store.prepare();
  } catch (err) {
    await Promise.allSettled([...opened.values()].map((r) => r.provider.close()));
    throw err;
  }
  return new TenantKeys(opened, {
    maxEntries: config.keyCache.maxTenants,
    maxAgeMillis: config.keyCache.maxAgeSeconds * 1000,
  });
}

export interface KeyOperationsParts {
  keys: TenantKeys;
  fields: EncryptedFields;
  /** The tenant's catalog row, any status. */
  tenant(id: string): Promise<Tenant>;
  /** A session of the tenant whatever its status: operator work, not a tenant's request. */
  session<T>(tenant: Tenant, fn: (session: TenantSession) => Promise<T>): Promise<T>;
  audit: AuditLog;
}

export class KeyOperations {
  readonly #parts: KeyOperationsParts;

  constructor(parts: KeyOperationsParts) {
    this.#parts = parts;
  }

  /** Master key, data key versions, values per version and the last re-encryption. */
  async status(tenantId: string): Promise<KeyStatus> {
    const tenant = await this.#tenant(tenantId, true);
    const { keys, fields, session } = this.#parts;
    const status = await keys.status(tenant);
    const counts = tenant.status === 'deleted'
      ? new Map<number, number>()
      : await session(tenant, (s) => valuesByVersion(s, fields.all));
    const checkpoint = await keys.region(tenant.region).store
      .transaction((tx) => tx.checkpoint(tenant.id));
    const { afterId: _afterId, ...reencryptRun } = checkpoint ?? { afterId: null };
    return {
      ...status,
      valuesByVersion: Object.fromEntries([...counts].sort(([a], [b]) => a - b)
        .map(([version, n]) => [String(version), n])),
      reencrypt: checkpoint === undefined ? null : reencryptRun as KeyStatus['reencrypt'],
    };
  }

  /**
   * Adds a data key version and makes it active for new writes; older versions still open.
   *
   * @example
   * await tenancy.keys.rotate('acme') // activeVersion 1 → 2
   */
  rotate(tenantId: string, context?: AuditContext): Promise<KeyStatus> {
    return this.#audited('keys.rotate', tenantId, context, async () => {
      const tenant = await this.#tenant(tenantId, false);
      await this.#parts.keys.rotate(tenant);
      return this.status(tenant.id);
    });
  }

  /**
   * Seals every value of older versions again under the active one, in batches, while the
   * tenant keeps working. Resumes from its checkpoint when an earlier run stopped.
   */
  reencrypt(tenantId: string, options: ReencryptOptions = {}, context?: AuditContext):
    Promise<ReencryptProgress> {
    return this.#audited('keys.reencrypt', tenantId, context, async () => {
      const tenant = await this.#tenant(tenantId, false);
      const { keys, fields, session } = this.#parts;
      // A fresh load, so a rotation made by another process is the target.
      await keys.forget(tenant.id);
      return reencrypt({
        tenant,
        fields: fields.all,
        cipher: await keys.cipher(tenant),
        store: keys.region(tenant.region).store,
        session: (fn) => session(tenant, fn),
        onProgress: options.onProgress,
        signal: options.signal,
        batchSize: options.batchSize,
      });
    });
  }

  /** Retires a data key version; refused while any value is still sealed under it. */
  retire(tenantId: string, version: number, context?: AuditContext): Promise<KeyStatus> {
    return this.#audited('keys.retire', tenantId, context, async () => {
      const tenant = await this.#tenant(tenantId, false);
      const { keys, fields, session } = this.#parts;
      await keys.retire(tenant, version, async () => {
        const counts = await session(tenant, (s) => valuesByVersion(s, fields.all));
        return counts.get(version) ?? 0;
      });
      return this.status(tenant.id);
    });
  }

  /**
   * Makes a new root key current (every region, or one) and rewraps every tenant master key
   * under it. No data and no data key is touched.
   */
  rotateRoot(options: { region?: string } = {}, context?: AuditContext):
    Promise<RootRotation[]> {
    return this.#parts.audit.audited(
      { ...context, action: 'keys.rotate_root', resource: `region:${options.region ?? '*'}` },
      () => this.#parts.keys.rotateRoot(options.region),
      (done) => ({ detail: done.map((r) => `${r.region}: ${r.rewrapped} rewrapped`).join('; ') }),
    );
  }

  /**
   * Opens one envelope of a tenant outside any session, e.g. to check a copy or a backup. After
   * a shred this fails with KEYS_DESTROYED.
   */
  async open(tenantId: string, place: ValuePlace, envelope: Uint8Array): Promise<string> {
    const tenant = await this.#tenant(tenantId, true);
    const cipher = await this.#parts.keys.cipher(tenant);
    return cipher.open(place.table, place.column, String(place.rowId), envelope)
      .toString('utf8');
  }

  async #tenant(id: string, deletedOk: boolean): Promise<Tenant> {
    const tenant = await this.#parts.tenant(id);
    if (tenant.status === 'creating' || tenant.status === 'deleting' ||
      (tenant.status === 'deleted' && !deletedOk)) {
      throw new TenancyError('TENANT_NOT_FOUND');
    }
    return tenant;
  }

  #audited<T>(action: string, tenantId: string, context: AuditContext | undefined,
    work: () => Promise<T>): Promise<T> {
    return this.#parts.audit.audited(
      { ...context, action, tenantId, resource: tenantResource(tenantId) }, work);
  }
}
