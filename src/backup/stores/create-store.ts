// Opens a region's blob store from its config; the S3 client loads only when a region uses it.
import { join, resolve } from 'node:path';
import type { BackupStoreConfig } from '../../config/schema.ts';
import type { BlobStore } from '../blob-store.ts';
import { FolderBlobStore } from './folder/folder-store.ts';

/** The store of region `region`; a folder store defaults to `<dataDir>/backups/<region>`. */
export async function createBlobStore(config: BackupStoreConfig, dataDir: string,
  region: string): Promise<BlobStore> {
  if (config.store === 'folder') {
    return new FolderBlobStore(resolve(config.path ?? join(dataDir, 'backups', region)));
  }
  const { S3BlobStore } = await import('./s3/s3-store.ts');
  return new S3BlobStore(config);
}
