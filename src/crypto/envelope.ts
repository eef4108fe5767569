// The envelope: the versioned binary format of one encrypted value, sealed with AES-256-GCM.
//
//   offset  size  field
//   0       1     magic 0xE7
//   1       1     format version (1)
//   2       1     algorithm (1 = AES-256-GCM under an HKDF-SHA256 subkey)
//   3       16    tenant key id (the tenant's keyring id)
//   19      4     key version (big-endian), the data key version that sealed it
//   23      16    HKDF salt of the subkey
//   39      12    nonce
//   51      n     ciphertext
//   51+n    16    GCM tag
//
// The associated data is the 51-byte header followed by the framed place of the value (tenant,
// table, column, row id), so a header edited or a value moved fails the tag check.
import { createCipheriv, createDecipheriv, hkdfSync, randomFillSync } from 'node:crypto';
import { TenancyError } from '../errors.ts';

export const envelopeMagic = 0xe7;
export const envelopeFormat = 1;
export const aes256GcmHkdf = 1;
export const keyIdLength = 16;
export const saltLength = 16;
export const nonceLength = 12;
export const tagLength = 16;
/** Where the key version sits: SQL reads it with `substring(v from 20 for 4)`. */
export const keyVersionOffset = 19;
const saltOffset = 23;
const nonceOffset = 39;
export const headerLength = 51;
/** Bytes an envelope adds to its plaintext. */
export const envelopeOverhead = headerLength + tagLength;

const subkeyInfo = Buffer.from('tenancy/envelope/v1', 'utf8');

/** The key a batch of writes seals with: a data key version narrowed by one salt. */
export interface SealingKey {
  readonly keyId: Buffer;
  readonly version: number;
  readonly salt: Buffer;
  readonly subkey: Buffer;
}

export interface EnvelopeHeader {
  readonly keyId: Buffer;
  readonly version: number;
  readonly salt: Buffer;
}

function failed(detail: string, tenantId?: string): TenancyError {
  return new TenancyError('DECRYPT_FAILED', { params: { detail }, tenantId });
}

/**
 * HKDF-SHA256 of a data key into the subkey of one salt. The info binds keyring id and version,
 * so one data key never yields the same subkey for two versions or keyrings.
 */
export function deriveSubkey(dataKey: Buffer, keyId: Buffer, version: number, salt: Buffer):
  Buffer {
  const info = Buffer.allocUnsafe(subkeyInfo.length + keyIdLength + 4);
  subkeyInfo.copy(info, 0);
  keyId.copy(info, subkeyInfo.length);
  info.writeUInt32BE(version, subkeyInfo.length + keyIdLength);
  return Buffer.from(hkdfSync('sha256', dataKey, salt, info, 32));
}

/** A fresh random salt for a new batch of writes. */
export function newSalt(): Buffer {
  return randomFillSync(Buffer.allocUnsafe(saltLength));
}

/**
 * Seals `plaintext` for the place framed in `place`. `nonce` is only for test vectors; every
 * real call takes a random one.
 */
export function sealEnvelope(key: SealingKey, place: Buffer, plaintext: Uint8Array,
  nonce?: Buffer): Buffer {
  const out = Buffer.allocUnsafe(headerLength + plaintext.length + tagLength);
  out[0] = envelopeMagic;
  out[1] = envelopeFormat;
  out[2] = aes256GcmHkdf;
  key.keyId.copy(out, 3);
  out.writeUInt32BE(key.version, keyVersionOffset);
  key.salt.copy(out, saltOffset);
  if (nonce === undefined) randomFillSync(out, nonceOffset, nonceLength);
  else nonce.copy(out, nonceOffset, 0, nonceLength);
  const header = out.subarray(0, headerLength);
  const cipher = createCipheriv('aes-256-gcm', key.subkey, header.subarray(nonceOffset));
  cipher.setAAD(Buffer.concat([header, place]));
  const body = cipher.update(plaintext);
  body.copy(out, headerLength);
  // GCM is a stream mode: final() adds nothing, it only computes the tag.
  cipher.final();
  cipher.getAuthTag().copy(out, headerLength + body.length);
  return out;
}

/** Reads and checks the fixed header fields; anything that is not our envelope fails. */
export function readHeader(envelope: Uint8Array, tenantId?: string): EnvelopeHeader {
  if (envelope.length < headerLength + tagLength) throw failed('value is truncated', tenantId);
  if (envelope[0] !== envelopeMagic) throw failed('value is not an envelope', tenantId);
  if (envelope[1] !== envelopeFormat) throw failed('unknown envelope format', tenantId);
  if (envelope[2] !== aes256GcmHkdf) throw failed('unknown algorithm', tenantId);
  const bytes = Buffer.from(envelope.buffer, envelope.byteOffset, envelope.length);
  return {
    keyId: bytes.subarray(3, 3 + keyIdLength),
    version: bytes.readUInt32BE(keyVersionOffset),
    salt: bytes.subarray(saltOffset, saltOffset + saltLength),
  };
}

/** The key version of an envelope, read without decrypting it. */
export function envelopeVersion(envelope: Uint8Array): number {
  return readHeader(envelope).version;
}

/**
 * Opens an envelope with the subkey its header names (the caller derived it). A tag that does
 * not match (another place, an edited byte, another key) is DECRYPT_FAILED, never garbage.
 */
export function openEnvelope(subkey: Buffer, envelope: Uint8Array, place: Buffer,
  tenantId?: string): Buffer {
  const bytes = Buffer.from(envelope.buffer, envelope.byteOffset, envelope.length);
  const header = bytes.subarray(0, headerLength);
  const tagAt = bytes.length - tagLength;
  const decipher = createDecipheriv('aes-256-gcm', subkey, header.subarray(nonceOffset));
  decipher.setAAD(Buffer.concat([header, place]));
  decipher.setAuthTag(bytes.subarray(tagAt));
  const plain = decipher.update(bytes.subarray(headerLength, tagAt));
  try {
    decipher.final();
  } catch {
    plain.fill(0);
    throw failed('the value does not belong to this tenant, table, column and row, ' +
      'or it was altered', tenantId);
  }
  return plain;
}
