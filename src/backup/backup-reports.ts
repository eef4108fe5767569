// What backup operations take and answer: listings, progress, and each operation's report.
import type { Isolation } from '../config/schema.ts';
import type { Compression } from './archive-manifest.ts';
import type { ArchiveIdentity } from './archive-writer.ts';
import type { TenantId } from '../tenant-id.ts';

/** What backups need to know of a tenant: the catalog row's routing fields. */
export interface BackupTenant {
  readonly id: TenantId;
  readonly region: string;
  readonly isolation: Isolation;
  readonly status: string;
  readonly schemaVersion: number;
}

/** A finished archive as listings show it. */
export interface BackupInfo extends ArchiveIdentity {
  finishedAt: Date;
  tables: { name: string; rows: number }[];
  rows: number;
  /** Bytes stored: the data object plus the manifest. */
  bytes: number;
  compression: Compression;
  /** Where it is: the store's location (a folder, or s3://bucket/prefix). */
  location: string;
}

/** An archive whose manifest was never written (a backup killed or failing part way). */
export interface UnfinishedBackup {
  id: string;
  bytes: number;
  modifiedAt: Date;
}

export interface BackupProgress {
  phase: 'backup' | 'verify' | 'restore' | 'clone';
  rows: number;
  total: number;
}

export interface ProgressOptions {
  onProgress?: ((progress: BackupProgress) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface CreateBackupOptions extends ProgressOptions {
  compression?: Compression | undefined;
  /** Also store each table's checksum, compared again at restore (one more read per table). */
  digests?: boolean | undefined;
  /** Text per chunk before compression (default 8 MiB). */
  chunkBytes?: number | undefined;
}

export interface VerifyReport {
  id: string;
  tenantId: string;
  ok: true;
  chunks: number;
  rows: number;
  tables: { name: string; rows: number }[];
  /** Bytes stored, as listings count them: the data object plus the manifest. */
  bytes: number;
}

export interface RestoreReport {
  id: string;
  tenantId: string;
  /** The tenant the archive was made of (another one for a clone). */
  from: string;
  rows: number;
  tables: { name: string; rows: number }[];
  durationMs: number;
}

export interface CloneReport extends RestoreReport {
  tenant: BackupTenant;
  apiKey: { keyId: string; secret: string };
}

export interface PruneOptions {
  /** Keep this many newest archives. */
  keep?: number | undefined;
  /** Delete archives older than this many milliseconds. */
  olderThanMillis?: number | undefined;
}

export interface PruneReport {
  tenantId: string;
  deleted: string[];
  kept: string[];
  /** Unfinished archives (no manifest) older than an hour that were removed too. */
  unfinished: string[];
}
