// The archive's manifest: what a backup holds and where, written last as its completion mark.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { isolations } from '../config/schema.ts';
import { TenancyError } from '../errors.ts';

export const archiveFormat = 'tenancy-backup';
/** 2: chunks hold rows as COPY text (version 1, JSON chunks, was never released). */
export const archiveFormatVersion = 2;

export type Compression = 'gzip' | 'brotli' | 'none';

const chunkSchema = z.object({
  index: z.number().int().min(0),
  table: z.string(),
  rows: z.number().int().min(0),
  /** Where the chunk starts in the data object, and its stored (sealed) length. */
  offset: z.number().int().min(0),
  length: z.number().int().min(1),
  /** Bytes of the chunk's text before compression. */
  plainBytes: z.number().int().min(0),
  /** SHA-256 of the stored bytes, hex. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
}).strict();

const tableSchema = z.object({
  name: z.string(),
  columns: z.array(z.object({ name: z.string(), type: z.string() }).strict()),
  rows: z.number().int().min(0),
  digest: z.string().optional(),
}).strict();

export const manifestSchema = z.object({
  format: z.literal(archiveFormat),
  formatVersion: z.literal(archiveFormatVersion),
  id: z.string(),
  tenantId: z.string(),
  region: z.string(),
  isolation: z.enum(isolations as [string, ...string[]]),
  schemaVersion: z.number().int().min(0),
  createdAt: z.string(),
  finishedAt: z.string(),
  compression: z.enum(['gzip', 'brotli', 'none']),
  tables: z.array(tableSchema),
  chunks: z.array(chunkSchema),
  rows: z.number().int().min(0),
  dataBytes: z.number().int().min(0),
  /**
   * An envelope, sealed under the tenant's keys, of the SHA-256 of the manifest without this
   * field: an edited manifest (a chunk dropped, a count changed) fails verification.
   */
  seal: z.string(),
}).strict();

export type ArchiveManifest = z.output<typeof manifestSchema>;
export type ArchiveChunk = ArchiveManifest['chunks'][number];
export type ArchiveTable = ArchiveManifest['tables'][number];

const backupId = /^\d{8}t\d{6}z-[0-9a-f]{8}$/;

/** A new id that sorts by creation time: `20261204t155143z-1f2e3d4c`. */
export function newBackupId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'z').toLowerCase();
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

/** Checks a backup id before it reaches a key or a path. */
export function parseBackupId(value: string): string {
  if (!backupId.test(value)) {
    throw new TenancyError('BACKUP_ID_INVALID', {
      params: { detail: 'expected the form 20261204t155143z-1f2e3d4c' },
    });
  }
  return value;
}

/** `tenants/<tenant>/backups/` */
export function tenantPrefix(tenant: string): string {
  return `tenants/${tenant}/backups/`;
}

export function archivePrefix(tenant: string, id: string): string {
  return `${tenantPrefix(tenant)}${id}/`;
}

export function manifestKey(tenant: string, id: string): string {
  return `${archivePrefix(tenant, id)}manifest.json`;
}

export function dataKey(tenant: string, id: string): string {
  return `${archivePrefix(tenant, id)}data.bin`;
}

/** JSON with object keys sorted at every level, so writer and reader hash the same bytes. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The manifest's bytes as sealed: canonical JSON with the `seal` field left out. */
export function sealedBytes(manifest: Omit<ArchiveManifest, 'seal'> & { seal?: string }):
  Buffer {
  const { seal: _seal, ...rest } = manifest;
  return Buffer.from(canonical(rest), 'utf8');
}

/** Parses a manifest's JSON; anything that is not one of ours is BACKUP_CORRUPT. */
export function parseManifest(bytes: Buffer): ArchiveManifest {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new TenancyError('BACKUP_CORRUPT', { params: { detail: 'the manifest is not JSON' } });
  }
  const parsed = manifestSchema.safeParse(value);
  if (!parsed.success) {
    throw new TenancyError('BACKUP_CORRUPT', {
      params: { detail: 'the manifest is not a Tenancy archive manifest of a known version' },
    });
  }
  return parsed.data;
}
