// Wraps a tenant's data and index keys under its master key: AES-256-GCM, bound to their place.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { TenancyError } from '../errors.ts';
import { frame } from './framing.ts';

export type KeyPurpose = 'data' | 'index';

/** What a wrapped tenant key is bound to: unwrapping it under another binding fails. */
export interface KeyBinding {
  readonly tenantId: string;
  readonly keyringId: Buffer;
  readonly purpose: KeyPurpose;
  readonly version: number;
}

const wrapFormat = 1;
const nonceLength = 12;
const tagLength = 16;

function associatedData(binding: KeyBinding): Buffer {
  return frame('tenancy/tenant-key/v1', binding.tenantId, binding.keyringId, binding.purpose,
    String(binding.version));
}

/** `01 | nonce(12) | ciphertext(32) | tag(16)`: 61 bytes for a 32-byte key. */
export function wrapTenantKey(master: Buffer, key: Buffer, binding: KeyBinding): Buffer {
  const nonce = randomBytes(nonceLength);
  const cipher = createCipheriv('aes-256-gcm', master, nonce);
  cipher.setAAD(associatedData(binding));
  const body = Buffer.concat([cipher.update(key), cipher.final()]);
  return Buffer.concat([Buffer.of(wrapFormat), nonce, body, cipher.getAuthTag()]);
}

export function unwrapTenantKey(master: Buffer, blob: Uint8Array, binding: KeyBinding): Buffer {
  const bytes = Buffer.from(blob);
  if (bytes.length !== 1 + nonceLength + 32 + tagLength || bytes[0] !== wrapFormat) {
    throw new TenancyError('KEY_UNWRAP_FAILED', { tenantId: binding.tenantId });
  }
  const decipher = createDecipheriv('aes-256-gcm', master, bytes.subarray(1, 1 + nonceLength));
  decipher.setAAD(associatedData(binding));
  decipher.setAuthTag(bytes.subarray(bytes.length - tagLength));
  const key = decipher.update(bytes.subarray(1 + nonceLength, bytes.length - tagLength));
  try {
    decipher.final();
  } catch (err) {
    key.fill(0);
    throw new TenancyError('KEY_UNWRAP_FAILED', { tenantId: binding.tenantId, cause: err });
  }
  return key;
}
