// `tenancy.backups`: per-tenant archives in the tenant's region's blob store, and restores.
import type { BackupStoreConfig, Isolation } from '../config/schema.ts';
import type { EncryptedField } from '../crypto/encrypted-fields.ts';
import type { TenantCipher } from '../crypto/tenant-cipher.ts';
import { TenancyError, isTenancyError } from '../errors.ts';
import type { TenantStorage } from '../storage/placements/placement.ts';
import {
  archivePrefix, manifestKey, newBackupId, parseBackupId, parseManifest, tenantPrefix,
  type ArchiveManifest,
} from './archive-manifest.ts';
import { readArchive, readManifest } from './archive-reader.ts';
import { writeArchive } from './archive-writer.ts';
import type { BlobStore } from './blob-store.ts';
import { resealRows } from './reseal.ts';
import { createBlobStore } from './stores/create-store.ts';
import { exportTenant } from './tenant-export.ts';
import { importTenant } from './tenant-import.ts';
import type {
  BackupInfo, BackupTenant, CloneReport, CreateBackupOptions, PruneOptions, PruneReport,
  ProgressOptions, RestoreReport, UnfinishedBackup, VerifyReport,
} from './backup-reports.ts';

/** Who asked (the facade's audit context), passed through to the audit log untouched. */
export type BackupContext = object;

export type BackupAuditEvent<C extends BackupContext> = C & {
  action: string;
  tenantId: string;
  resource: string;
};

export interface BackupParts<C extends BackupContext> {
  dataDir: string;
  /** Each region's blob store config. */
  stores: Readonly<Record<string, BackupStoreConfig>>;
  fields: readonly EncryptedField[];
  /** The catalog row, any status; TENANT_NOT_FOUND when there is none. */
  tenant(id: string): Promise<BackupTenant>;
  /** Where the tenant's tables are, through its region's router. */
  storage(tenant: BackupTenant): Promise<TenantStorage>;
  /**
   * The residency guard: throws RESIDENCY_VIOLATION (and audits it) when an archive of the
   * tenant would be written to, or read from, region `target` that is not the tenant's own.
   */
  requireRegion(check: { tenantId: string; required: string; target: string },
    context?: C): Promise<void>;
  /** The tenant's cipher; KEYS_DESTROYED after a shred. */
  cipher(tenant: BackupTenant): Promise<TenantCipher>;
  /** Creates a tenant for a clone, with its first API key. */
  createTenant(input: { id: string; isolation?: Isolation | undefined; region: string;
    displayName?: string | undefined }, context?: C):
    Promise<{ tenant: BackupTenant; apiKey: { keyId: string; secret: string } }>;
  suspend(id: string, context?: C): Promise<unknown>;
  resume(id: string, context?: C): Promise<unknown>;
  /** Deletes a clone target whose load failed. */
  deleteTenant(id: string, context?: C): Promise<unknown>;
  audited<T>(event: BackupAuditEvent<C>, work: () => Promise<T>,
    after?: (result: T) => { resource?: string; detail?: string } | null): Promise<T>;
}

/** Unfinished archives younger than this may still be being written by another process. */
const unfinishedGraceMillis = 60 * 60 * 1000;

const backupResource = (id: string): string => `backup:${id}`;

export class BackupOperations<C extends BackupContext = BackupContext> {
  readonly #parts: BackupParts<C>;
  readonly #stores = new Map<string, Promise<BlobStore>>();

  constructor(parts: BackupParts<C>) {
    this.#parts = parts;
  }

  /** The blob store of a region's archives, opened on first use. */
  store(region: string): Promise<BlobStore> {
    let store = this.#stores.get(region);
    if (store === undefined) {
      const config = this.#parts.stores[region];
      if (config === undefined) {
        throw new TenancyError('REGION_UNKNOWN', { params: { detail: region } });
      }
      store = createBlobStore(config, this.#parts.dataDir, region);
      store.catch(() => this.#stores.delete(region));
      this.#stores.set(region, store);
    }
    return store;
  }

  /**
   * Writes an archive of the tenant's rows to its region's store and returns it. The tenant
   * keeps working meanwhile; the archive holds one consistent instant of it.
   *
   * @example
   * const { id } = await tenancy.backups.create('acme');
   */
  create(tenantId: string, options: CreateBackupOptions = {}, context?: C):
    Promise<BackupInfo> {
    return this.#audited('backup.create', tenantId, context, async () => {
      const tenant = await this.#live(tenantId);
      await this.#parts.requireRegion({ tenantId: tenant.id, required: tenant.region,
        target: tenant.region }, context);
      const cipher = await this.#parts.cipher(tenant);
      const store = await this.store(tenant.region);
      const id = newBackupId();
      const manifest = await writeArchive(store, {
        id, tenantId: tenant.id, region: tenant.region, isolation: tenant.isolation,
        schemaVersion: tenant.schemaVersion, createdAt: new Date(),
      }, cipher, exportTenant(await this.#parts.storage(tenant), tenant.id, {
        signal: options.signal, digests: options.digests === true,
      }), {
        compression: options.compression,
        chunkBytes: options.chunkBytes,
        signal: options.signal,
        onProgress: (p) => options.onProgress?.({ phase: 'backup', rows: p.rows,
          total: p.total }),
      });
      return this.#info(manifest, store, await this.#manifestSize(store, manifest));
    }, (info) => ({ resource: backupResource(info.id), detail: `${info.rows} rows` }));
  }

  /** Finished archives of the tenant, newest first. */
  async list(tenantId: string): Promise<BackupInfo[]> {
    const { finished } = await this.#scan(tenantId);
    return finished;
  }

  /** Archives of the tenant that never finished, for operators cleaning up. */
  async unfinished(tenantId: string): Promise<UnfinishedBackup[]> {
    return (await this.#scan(tenantId)).unfinished;
  }

  /**
   * Reads every chunk of an archive, checks its hash, opens it under the tenant's keys and
   * counts its rows against the manifest. Throws BACKUP_CORRUPT naming what is wrong.
   */
  verify(tenantId: string, backupId: string, options: ProgressOptions = {}):
    Promise<VerifyReport> {
    return this.#audited('backup.verify', tenantId, undefined, async () => {
      const tenant = await this.#parts.tenant(tenantId);
      const { manifest, store } = await this.#archive(tenant, tenant.id, backupId);
      const cipher = await this.#archiveCipher(tenant);
      const counts = new Map<string, number>();
      let rows = 0;
      for await (const part of readArchive(store, manifest, cipher, options)) {
        if (part.kind === 'tables') continue;
        const n = part.kind === 'copy' ? part.rows : part.rows.length;
        counts.set(part.table, (counts.get(part.table) ?? 0) + n);
        rows += n;
        options.onProgress?.({ phase: 'verify', rows, total: manifest.rows });
      }
      for (const table of manifest.tables) {
        if ((counts.get(table.name) ?? 0) !== table.rows) {
          throw new TenancyError('BACKUP_CORRUPT', {
            params: { detail: `${table.name}: the chunks hold another number of rows` },
          });
        }
      }
      return {
        id: manifest.id, tenantId: tenant.id, ok: true as const, chunks: manifest.chunks.length,
        rows, tables: manifest.tables.map((t) => ({ name: t.name, rows: t.rows })),
        // Counted as listings count it: the data object and the manifest.
        bytes: manifest.dataBytes + await this.#manifestSize(store, manifest),
      };
    }, () => ({ resource: backupResource(backupId) }));
  }

  /**
   * Replaces the tenant's rows with the archive's, in one transaction: readers see the old rows
   * or the new, never a mix, and no other tenant's row is touched. An archive of another
   * tenant (`from`) is refused with BACKUP_TENANT_MISMATCH (use clone), one made in another
   * region with RESIDENCY_VIOLATION, one of a newer schema with BACKUP_INCOMPATIBLE.
   */
  restore(tenantId: string, backupId: string,
    options: ProgressOptions & { from?: string | undefined } = {}, context?: C):
    Promise<RestoreReport> {
    return this.#audited('backup.restore', tenantId, context, async () => {
      const started = Date.now();
      const tenant = await this.#live(tenantId, true);
      const from = options.from ?? tenant.id;
      if (from !== tenant.id) throw mismatch(from, tenant.id);
      const { manifest, store } = await this.#archive(tenant, tenant.id, backupId, context);
      if (manifest.schemaVersion > tenant.schemaVersion) {
        throw new TenancyError('BACKUP_INCOMPATIBLE', { tenantId: tenant.id, params: {
          detail: `it has schema version ${manifest.schemaVersion}, the tenant ` +
            `${tenant.schemaVersion}; migrate first`,
        } });
      }
      const cipher = await this.#archiveCipher(tenant);
      const done = await importTenant(await this.#parts.storage(tenant), tenant.id,
        readArchive(store, manifest, cipher, options), {
          isolation: tenant.isolation, verifyDigests: true, signal: options.signal,
          exclusive: true,
          onProgress: (rows) => options.onProgress?.({ phase: 'restore', rows,
            total: manifest.rows }),
        });
      return { id: manifest.id, tenantId: tenant.id, from, rows: done.rows, tables: done.tables,
        durationMs: Date.now() - started };
    }, (r) => ({ resource: backupResource(r.id), detail: `${r.rows} rows` }));
  }

  /**
   * Makes a new tenant `to` from an archive of `tenantId`: created (in the isolation given, or
   * the archive's), filled with the archive's rows with every encrypted value opened under the
   * source's keys and sealed again under the new tenant's, then issued its first API key.
   * The source may be deleted, but not shredded.
   */
  clone(tenantId: string, backupId: string, target: { to: string; isolation?: Isolation;
    displayName?: string }, options: ProgressOptions = {}, context?: C):
    Promise<CloneReport> {
    return this.#audited('backup.clone', target.to, context, async () => {
      const started = Date.now();
      const source = await this.#parts.tenant(tenantId);
      const { manifest, store } = await this.#archive(source, source.id, backupId, context);
      const sourceCipher = await this.#archiveCipher(source);
      // The seal is checked before anything is created, so a bad archive makes no tenant.
      const parts = readArchive(store, manifest, sourceCipher, options);
      const first = await parts.next();
      const created = await this.#parts.createTenant({
        id: target.to, region: source.region, displayName: target.displayName,
        isolation: target.isolation ?? manifest.isolation as Isolation,
      }, context);
      const tenant = created.tenant;
      try {
        await this.#parts.suspend(tenant.id, context);
        const cipher = await this.#parts.cipher(tenant);
        const replay = (async function* () {
          if (first.done !== true) yield first.value;
          yield* parts;
        })();
        const done = await importTenant(await this.#parts.storage(tenant), tenant.id, replay, {
          isolation: tenant.isolation, signal: options.signal,
          transform: resealRows(this.#parts.fields, sourceCipher, cipher),
          onProgress: (rows) => options.onProgress?.({ phase: 'clone', rows,
            total: manifest.rows }),
        });
        await this.#parts.resume(tenant.id, context);
        return {
          id: manifest.id, tenantId: tenant.id, from: source.id, rows: done.rows,
          tables: done.tables, durationMs: Date.now() - started,
          tenant: { ...tenant, status: 'active' }, apiKey: created.apiKey,
        };
      } catch (err) {
        await this.#parts.deleteTenant(tenant.id, context).catch(() => {});
        throw err;
      }
    }, (r) => ({ resource: backupResource(r.id), detail: `from ${r.from}, ${r.rows} rows` }));
  }

  /**
   * Deletes the tenant's archives beyond the newest `keep` and/or older than `olderThanMillis`
   * (with both, only those both rules let go), and unfinished archives older than an hour.
   */
  prune(tenantId: string, options: PruneOptions, context?: C):
    Promise<PruneReport> {
    return this.#audited('backup.prune', tenantId, context, async () => {
      if (options.keep === undefined && options.olderThanMillis === undefined) {
        throw new TenancyError('VALIDATION_FAILED', {
          params: { detail: 'name how many to keep or how old to delete' },
        });
      }
      const tenant = await this.#parts.tenant(tenantId);
      const store = await this.store(tenant.region);
      const { finished, unfinished } = await this.#scan(tenant.id);
      const now = Date.now();
      const deleted: string[] = [];
      const kept: string[] = [];
      finished.forEach((backup, rank) => {
        const beyondKeep = options.keep === undefined || rank >= options.keep;
        const old = options.olderThanMillis === undefined ||
          now - backup.createdAt.getTime() > options.olderThanMillis;
        (beyondKeep && old ? deleted : kept).push(backup.id);
      });
      for (const id of deleted) {
        // The manifest goes first, so a prune that stops half way leaves no archive that
        // still looks complete.
        await store.deletePrefix(manifestKey(tenant.id, id));
        await store.deletePrefix(archivePrefix(tenant.id, id));
      }
      const stale = unfinished.filter((u) => now - u.modifiedAt.getTime() > unfinishedGraceMillis);
      for (const { id } of stale) await store.deletePrefix(archivePrefix(tenant.id, id));
      return { tenantId: tenant.id, deleted, kept, unfinished: stale.map((u) => u.id) };
    }, (r) => ({ detail: `${r.deleted.length} deleted, ${r.kept.length} kept` }));
  }

  async close(): Promise<void> {
    const stores = [...this.#stores.values()];
    this.#stores.clear();
    await Promise.allSettled(stores.map(async (store) => (await store).close()));
  }

  async #scan(tenantId: string): Promise<{ finished: BackupInfo[];
    unfinished: UnfinishedBackup[] }> {
    const tenant = await this.#parts.tenant(tenantId);
    const store = await this.store(tenant.region);
    const prefix = tenantPrefix(tenant.id);
    const byId = new Map<string, { manifest?: number; bytes: number; modifiedAt: Date }>();
    for (const blob of await store.list(prefix)) {
      const [id, name] = blob.key.slice(prefix.length).split('/');
      if (id === undefined || name === undefined) continue;
      const entry = byId.get(id) ?? { bytes: 0, modifiedAt: blob.modifiedAt };
      entry.bytes += blob.size;
      if (blob.modifiedAt > entry.modifiedAt) entry.modifiedAt = blob.modifiedAt;
      if (name === 'manifest.json') entry.manifest = blob.size;
      byId.set(id, entry);
    }
    const finished: BackupInfo[] = [];
    const unfinished: UnfinishedBackup[] = [];
    for (const [id, entry] of byId) {
      if (entry.manifest === undefined) {
        unfinished.push({ id, bytes: entry.bytes, modifiedAt: entry.modifiedAt });
        continue;
      }
      let manifest: ArchiveManifest;
      try {
        manifest = parseManifest(await store.get(manifestKey(tenant.id, id)));
      } catch (err) {
        if (isTenancyError(err, 'BACKUP_NOT_FOUND')) continue;
        throw err;
      }
      finished.push(this.#info(manifest, store, entry.bytes - manifest.dataBytes));
    }
    finished.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() ||
      (a.id < b.id ? 1 : -1));
    return { finished, unfinished };
  }

  async #manifestSize(store: BlobStore, manifest: ArchiveManifest): Promise<number> {
    const found = await store.list(manifestKey(manifest.tenantId, manifest.id));
    return found[0]?.size ?? 0;
  }

  #info(manifest: ArchiveManifest, store: BlobStore, manifestBytes: number): BackupInfo {
    return {
      id: manifest.id,
      tenantId: manifest.tenantId,
      region: manifest.region,
      isolation: manifest.isolation as Isolation,
      schemaVersion: manifest.schemaVersion,
      createdAt: new Date(manifest.createdAt),
      finishedAt: new Date(manifest.finishedAt),
      tables: manifest.tables.map((t) => ({ name: t.name, rows: t.rows })),
      rows: manifest.rows,
      bytes: manifest.dataBytes + manifestBytes,
      compression: manifest.compression,
      location: store.location,
    };
  }

  /** The archive `id` under `owner`'s prefix in `tenant`'s region, checked to belong there. */
  async #archive(tenant: BackupTenant, owner: string, backupId: string, context?: C):
    Promise<{ manifest: ArchiveManifest; store: BlobStore }> {
    const id = parseBackupId(backupId);
    const store = await this.store(tenant.region);
    const manifest = await readManifest(store, owner, id);
    if (manifest.tenantId !== owner) throw mismatch(manifest.tenantId, owner);
    // An archive made in another region (copied into this store) is refused before any read.
    await this.#parts.requireRegion({ tenantId: tenant.id, required: tenant.region,
      target: manifest.region }, context);
    return { manifest, store };
  }

  /** The keys that open the tenant's archives; after a shred, BACKUP_KEYS_DESTROYED. */
  async #archiveCipher(tenant: BackupTenant): Promise<TenantCipher> {
    try {
      return await this.#parts.cipher(tenant);
    } catch (err) {
      if (isTenancyError(err, 'KEYS_DESTROYED')) {
        throw new TenancyError('BACKUP_KEYS_DESTROYED', { tenantId: tenant.id, cause: err });
      }
      throw err;
    }
  }

  /** An active or suspended tenant: one whose rows exist to back up or replace. */
  async #live(tenantId: string, restoring = false): Promise<BackupTenant> {
    const tenant = await this.#parts.tenant(tenantId);
    if (tenant.status !== 'active' && tenant.status !== 'suspended') {
      // Restoring a shredded tenant fails for the reason that matters: its keys are gone.
      if (restoring && tenant.status === 'deleted') await this.#archiveCipher(tenant);
      throw new TenancyError('TENANT_NOT_FOUND');
    }
    return tenant;
  }

  #audited<T>(action: string, tenantId: string, context: C | undefined,
    work: () => Promise<T>, after?: (result: T) => { resource?: string; detail?: string } | null):
    Promise<T> {
    const event = { ...context, action, tenantId, resource: `tenant:${tenantId}` } as
      BackupAuditEvent<C>;
    return this.#parts.audited(event, work, after);
  }
}

function mismatch(archiveTenant: string, target: string): TenancyError {
  return new TenancyError('BACKUP_TENANT_MISMATCH', {
    tenantId: target, params: { detail: `made of ${archiveTenant}, not ${target}` },
  });
}
