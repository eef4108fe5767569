// Writes one archive: chunks streamed into the data object, then the sealed manifest, last.
import type { Isolation } from '../config/schema.ts';
import type { TenantCipher } from '../crypto/tenant-cipher.ts';
import { TenancyError } from '../errors.ts';
import {
  archiveFormat, archiveFormatVersion, dataKey, manifestKey, sealedBytes,
  type ArchiveChunk, type ArchiveManifest, type Compression,
} from './archive-manifest.ts';
import {
  chunkPlace, digestOf, manifestPlace, sealChunk, type SealedChunk,
} from './archive-chunks.ts';
import type { BlobStore } from './blob-store.ts';
import { encodeCopyRow } from './copy-text.ts';
import type { ExportedTable, ExportPart } from './tenant-export.ts';

export interface ArchiveIdentity {
  id: string;
  tenantId: string;
  region: string;
  isolation: Isolation;
  schemaVersion: number;
  createdAt: Date;
}

export interface ArchiveProgress {
  rows: number;
  /** Rows the tenant had when the backup began. */
  total: number;
  bytes: number;
}

export interface WriteArchiveOptions {
  compression?: Compression;
  /** Text per chunk before compression (default 8 MiB). */
  chunkBytes?: number;
  onProgress?: (progress: ArchiveProgress) => void;
  signal?: AbortSignal | undefined;
}

/** Chunks sealed ahead of the one being written: they compress while the next rows arrive. */
const sealAhead = 2;

/**
 * Streams `parts` (an export) into `tenants/<t>/backups/<id>/data.bin`, each chunk compressed
 * and sealed under the tenant's keys, then writes `manifest.json` with the chunk list, counts
 * and hashes. The manifest goes last, atomically: an archive without one is unfinished and no
 * listing, verify or restore takes it. A failure removes what was written.
 */
export async function writeArchive(store: BlobStore, identity: ArchiveIdentity,
  cipher: TenantCipher, parts: AsyncIterable<ExportPart>, options: WriteArchiveOptions = {}):
  Promise<ArchiveManifest> {
  const compression = options.compression ?? 'brotli';
  const chunkBytes = options.chunkBytes ?? 8 * 1024 * 1024;
  const { id, tenantId } = identity;
  const writer = await store.writer(dataKey(tenantId, id));
  const chunks: ArchiveChunk[] = [];
  const inFlight: { table: string; rows: number; sealed: Promise<SealedChunk> }[] = [];
  let tables: readonly ExportedTable[] | undefined;
  let pending: { table: string; text: string; rows: number } | undefined;
  let offset = 0;
  let rows = 0;
  let total = 0;

  const writeOldest = async (): Promise<void> => {
    const next = inFlight.shift();
    if (next === undefined) return;
    const sealed = await next.sealed;
    await writer.write(sealed.bytes);
    chunks.push({
      index: chunks.length, table: next.table, rows: next.rows, offset,
      length: sealed.bytes.length, plainBytes: sealed.plainBytes, sha256: sealed.sha256,
    });
    offset += sealed.bytes.length;
    rows += next.rows;
    options.onProgress?.({ rows, total, bytes: offset });
  };
  const flush = async (): Promise<void> => {
    if (pending === undefined || pending.rows === 0) return;
    const index = chunks.length + inFlight.length;
    const sealed = sealChunk(Buffer.from(pending.text, 'utf8'), compression, cipher,
      chunkPlace(tenantId, id, index));
    // Awaited in order by writeOldest; until then a rejection must not go unhandled.
    sealed.catch(() => {});
    inFlight.push({ table: pending.table, rows: pending.rows, sealed });
    pending = undefined;
    while (inFlight.length > sealAhead) await writeOldest();
  };

  try {
    for await (const part of parts) {
      options.signal?.throwIfAborted();
      if (part.kind === 'tables') {
        tables = part.tables;
        total = tables.reduce((sum, t) => sum + t.rows, 0);
        continue;
      }
      if (pending !== undefined && pending.table !== part.table) await flush();
      pending ??= { table: part.table, text: '', rows: 0 };
      if (part.kind === 'copy') {
        pending.text += part.text.toString('utf8');
        pending.rows += part.rows;
      } else {
        for (const row of part.rows) {
          pending.text += encodeCopyRow(row);
          pending.rows += 1;
          if (pending.text.length >= chunkBytes) await flush();
          pending ??= { table: part.table, text: '', rows: 0 };
        }
      }
      if (pending.text.length >= chunkBytes) await flush();
    }
    await flush();
    while (inFlight.length > 0) await writeOldest();
    if (tables === undefined) throw new TenancyError('INTERNAL', { tenantId });
    checkCounts(tables, chunks, tenantId);
    await writer.commit();
  } catch (err) {
    await Promise.allSettled(inFlight.map((f) => f.sealed));
    await writer.abort();
    throw err;
  }
  const unsealed: Omit<ArchiveManifest, 'seal'> = {
    format: archiveFormat,
    formatVersion: archiveFormatVersion,
    id,
    tenantId,
    region: identity.region,
    isolation: identity.isolation,
    schemaVersion: identity.schemaVersion,
    createdAt: identity.createdAt.toISOString(),
    finishedAt: new Date().toISOString(),
    compression,
    tables: tables.map((t) => ({
      name: t.name, columns: t.columns.map((c) => ({ name: c.name, type: c.type })), rows: t.rows,
      ...(t.digest === undefined ? {} : { digest: t.digest }),
    })),
    chunks,
    rows,
    dataBytes: offset,
  };
  const seal = cipher.sealAt(manifestPlace(tenantId, id),
    digestOf(sealedBytes(unsealed))).toString('base64');
  const manifest: ArchiveManifest = { ...unsealed, seal };
  await store.put(manifestKey(tenantId, id), Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`));
  return manifest;
}

function checkCounts(tables: readonly ExportedTable[], chunks: readonly ArchiveChunk[],
  tenantId: string): void {
  for (const table of tables) {
    const written = chunks.filter((c) => c.table === table.name).reduce((n, c) => n + c.rows, 0);
    if (written !== table.rows) {
      // The export counted the rows in the same snapshot it read them from.
      throw new TenancyError('INTERNAL', { tenantId });
    }
  }
}

