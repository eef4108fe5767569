// One chunk of an archive: rows of one table as text, compressed, then sealed under the
// tenant's keys at a place that names the tenant, the backup and the chunk's position.
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { brotliCompress, brotliDecompress, constants, gunzip, gzip } from 'node:zlib';
import { frame } from '../crypto/framing.ts';
import type { TenantCipher } from '../crypto/tenant-cipher.ts';
import { TenancyError, isTenancyError } from '../errors.ts';
import type { Compression } from './archive-manifest.ts';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);
const brotliAsync = promisify(brotliCompress);
const unbrotliAsync = promisify(brotliDecompress);

/** Where a chunk's envelope is bound: a value moved to another backup or position fails. */
export function chunkPlace(tenant: string, backupId: string, index: number): Buffer {
  return frame('tenancy/backup-chunk/v1', tenant, backupId, String(index));
}

/** Where the manifest's seal is bound. */
export function manifestPlace(tenant: string, backupId: string): Buffer {
  return frame('tenancy/backup-manifest/v1', tenant, backupId);
}

/** SHA-256 of `bytes`. */
export function digestOf(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

export interface SealedChunk {
  bytes: Buffer;
  plainBytes: number;
  sha256: string;
}

// Compression runs on libuv's thread pool, so it overlaps with reading the next rows.
async function compress(plain: Buffer, compression: Compression): Promise<Buffer> {
  if (compression === 'gzip') return gzipAsync(plain, { level: 3 });
  if (compression === 'brotli') {
    return brotliAsync(plain, { params: {
      [constants.BROTLI_PARAM_QUALITY]: 4,
      [constants.BROTLI_PARAM_SIZE_HINT]: plain.length,
    } });
  }
  return plain;
}

async function decompress(packed: Buffer, compression: Compression, limit: number):
  Promise<Buffer> {
  // The manifest says how large the text is: more than that is refused, not buffered.
  const options = { maxOutputLength: Math.max(limit, 1) };
  if (compression === 'gzip') return gunzipAsync(packed, options);
  if (compression === 'brotli') return unbrotliAsync(packed, options);
  return packed;
}

export async function sealChunk(plain: Buffer, compression: Compression, cipher: TenantCipher,
  place: Buffer): Promise<SealedChunk> {
  const packed = await compress(plain, compression);
  const bytes = cipher.sealAt(place, packed);
  return { bytes, plainBytes: plain.length, sha256: digestOf(bytes).toString('hex') };
}

/**
 * Checks a stored chunk's hash, opens its envelope and unpacks its text. A wrong hash, a wrong
 * place or tenant, or bytes that do not unpack are BACKUP_CORRUPT naming the chunk.
 */
export async function openChunk(bytes: Buffer, expected: { sha256: string; plainBytes: number;
  index: number }, compression: Compression, cipher: TenantCipher, place: Buffer):
  Promise<Buffer> {
  const which = `chunk ${expected.index}`;
  if (digestOf(bytes).toString('hex') !== expected.sha256) {
    throw new TenancyError('BACKUP_CORRUPT', { params: { detail: `${which}: hash mismatch` } });
  }
  let packed: Buffer;
  try {
    packed = cipher.openAt(place, bytes);
  } catch (err) {
    if (isTenancyError(err, 'DECRYPT_FAILED')) {
      throw new TenancyError('BACKUP_CORRUPT', {
        params: { detail: `${which} does not open under this tenant's keys at this place` },
        cause: err,
      });
    }
    throw err;
  }
  try {
    return await decompress(packed, compression, expected.plainBytes);
  } catch (err) {
    throw new TenancyError('BACKUP_CORRUPT', { params: { detail: `${which} does not unpack` },
      cause: err });
  }
}
