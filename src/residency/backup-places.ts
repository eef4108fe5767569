// Where a region keeps its tenants' archives, seen as folders: `tenants/<tenant>/backups/<id>/`.
import { readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { BackupStoreConfig } from '../config/schema.ts';

/** One region's blob store as the residency report and moves see it. */
export interface BackupPlaces {
  readonly region: string;
  /** Names the store, for findings: a folder path or `s3://bucket/prefix`. */
  readonly where: string;
  /** Backup ids by tenant id, read from the store itself. */
  list(): Promise<Map<string, string[]>>;
  /** Removes every archive of one tenant. */
  remove(tenantId: string): Promise<void>;
}

/** A folder store: the embedded default `<dataDir>/backups/<region>`, or its configured path. */
export class FolderBackupPlaces implements BackupPlaces {
  constructor(readonly region: string, readonly where: string) {}

  async list(): Promise<Map<string, string[]>> {
    const found = new Map<string, string[]>();
    const tenants = await readdir(join(this.where, 'tenants')).catch(() => [] as string[]);
    for (const tenant of tenants) {
      const ids = await readdir(join(this.where, 'tenants', tenant, 'backups'))
        .catch(() => [] as string[]);
      if (ids.length > 0) found.set(tenant, ids.sort());
    }
    return found;
  }

  async remove(tenantId: string): Promise<void> {
    await rm(join(this.where, 'tenants', tenantId), { recursive: true, force: true });
  }
}

/** Names a region's store as the blob stores do: its folder, or `s3://bucket/prefix`. */
export function storeLocation(config: BackupStoreConfig, dataDir: string, region: string):
  string {
  return config.store === 'folder'
    ? resolve(config.path ?? join(dataDir, 'backups', region))
    : `s3://${config.bucket}/${config.prefix}`;
}

/** What the residency code needs of a blob store: its listing and prefix removal. */
export interface ListableStore {
  readonly location: string;
  list(prefix: string): Promise<readonly { key: string }[]>;
  deletePrefix(prefix: string): Promise<number>;
}

/** Any blob store (folder or S3) seen through its own listing, opened when first needed. */
export class BlobStorePlaces implements BackupPlaces {
  constructor(readonly region: string, readonly where: string,
    private readonly open: () => Promise<ListableStore>) {}

  async list(): Promise<Map<string, string[]>> {
    const found = new Map<string, Set<string>>();
    for (const { key } of await (await this.open()).list('tenants/')) {
      const [, tenant, kind, id] = key.split('/');
      if (tenant === undefined || kind !== 'backups' || id === undefined) continue;
      const ids = found.get(tenant) ?? new Set<string>();
      ids.add(id);
      found.set(tenant, ids);
    }
    return new Map([...found].map(([tenant, ids]) => [tenant, [...ids].sort()]));
  }

  async remove(tenantId: string): Promise<void> {
    await (await this.open()).deletePrefix(`tenants/${tenantId}/`);
  }
}
