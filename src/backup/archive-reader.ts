// Reads an archive back: the manifest and its seal, then each chunk checked, opened, unpacked.
import { timingSafeEqual } from 'node:crypto';
import type { TenantCipher } from '../crypto/tenant-cipher.ts';
import { TenancyError, isTenancyError } from '../errors.ts';
import {
  dataKey, manifestKey, parseManifest, sealedBytes, type ArchiveManifest,
} from './archive-manifest.ts';
import { chunkPlace, digestOf, manifestPlace, openChunk } from './archive-chunks.ts';
import type { BlobStore } from './blob-store.ts';
import { countCopyRows } from './copy-text.ts';
import type { ExportPart } from './tenant-export.ts';

const corrupt = (detail: string): TenancyError =>
  new TenancyError('BACKUP_CORRUPT', { params: { detail } });

/** The manifest of a finished archive; BACKUP_NOT_FOUND when there is none, or it never was. */
export async function readManifest(store: BlobStore, tenant: string, id: string):
  Promise<ArchiveManifest> {
  let bytes: Buffer;
  try {
    bytes = await store.get(manifestKey(tenant, id));
  } catch (err) {
    if (isTenancyError(err, 'BACKUP_NOT_FOUND')) {
      throw new TenancyError('BACKUP_NOT_FOUND', { tenantId: tenant, params: { detail: id } });
    }
    throw err;
  }
  const manifest = parseManifest(bytes);
  if (manifest.id !== id) throw corrupt('the manifest names another backup id');
  return manifest;
}

/**
 * Checks the manifest's seal under the tenant's keys: the counts, hashes and chunk list are
 * the ones the backup wrote. Also checks the chunks tile the data object with no gap.
 */
export function checkSeal(manifest: ArchiveManifest, cipher: TenantCipher): void {
  let digest: Buffer;
  try {
    digest = cipher.openAt(manifestPlace(manifest.tenantId, manifest.id),
      Buffer.from(manifest.seal, 'base64'));
  } catch (err) {
    if (isTenancyError(err, 'DECRYPT_FAILED')) {
      throw new TenancyError('BACKUP_CORRUPT', {
        params: { detail: "the manifest's seal does not open under the tenant's keys" },
        cause: err,
      });
    }
    throw err;
  }
  const expected = digestOf(sealedBytes(manifest));
  if (digest.length !== expected.length || !timingSafeEqual(digest, expected)) {
    throw corrupt('the manifest was altered after it was sealed');
  }
  let offset = 0;
  manifest.chunks.forEach((chunk, index) => {
    if (chunk.index !== index || chunk.offset !== offset) throw corrupt('the chunk list has gaps');
    offset += chunk.length;
  });
  if (offset !== manifest.dataBytes) throw corrupt('the chunk list does not cover the data');
  const rows = manifest.tables.reduce((n, t) => n + t.rows, 0);
  if (rows !== manifest.rows) throw corrupt('the table counts do not add up');
}

export interface ReadArchiveOptions {
  signal?: AbortSignal | undefined;
  /** Chunks read ahead of the one being consumed (default 3). */
  readAhead?: number;
}

/**
 * The archive's rows as export parts (tables first, then each chunk's rows as COPY text), ready
 * for `importTenant`. Every chunk's hash is checked and its
 * envelope opened before its rows are yielded; the row counts of each chunk and table must
 * match the manifest.
 */
export async function* readArchive(store: BlobStore, manifest: ArchiveManifest,
  cipher: TenantCipher, options: ReadArchiveOptions = {}): AsyncGenerator<ExportPart> {
  checkSeal(manifest, cipher);
  const key = dataKey(manifest.tenantId, manifest.id);
  const load = (index: number): Promise<Buffer> => {
    const chunk = manifest.chunks[index];
    if (chunk === undefined) return Promise.reject(corrupt('chunk missing'));
    const place = chunkPlace(manifest.tenantId, manifest.id, index);
    const body = store.getRange(key, chunk.offset, chunk.length)
      .then((bytes) => openChunk(bytes, chunk, manifest.compression, cipher, place));
    body.catch(() => {});
    return body;
  };
  const ahead = Math.max(1, options.readAhead ?? 3);
  const queue: Promise<Buffer>[] = [];
  let next = 0;
  const fill = (): void => {
    while (next < manifest.chunks.length && queue.length < ahead) queue.push(load(next++));
  };
  // The first chunks load while the consumer prepares for them (a restore clears the tenant).
  fill();
  yield { kind: 'tables', tables: manifest.tables };
  for (let index = 0; index < manifest.chunks.length; index += 1) {
    options.signal?.throwIfAborted();
    const text = await (queue.shift() as Promise<Buffer>);
    fill();
    const chunk = manifest.chunks[index];
    if (chunk === undefined || countCopyRows(text) !== chunk.rows) {
      throw corrupt(`chunk ${index} does not hold what the manifest says`);
    }
    yield { kind: 'copy', table: chunk.table, text, rows: chunk.rows };
  }
}
