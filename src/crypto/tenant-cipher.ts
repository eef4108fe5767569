// One tenant's unwrapped keys in memory, and the seal/open/blind-index operations made of them.
import { createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import { TenancyError } from '../errors.ts';
import {
  deriveSubkey, newSalt, openEnvelope, readHeader, sealEnvelope, type SealingKey,
} from './envelope.ts';
import { frame } from './framing.ts';

/** A tenant's keys as unwrapped from its keyring. Only ever in this process's memory. */
export interface UnwrappedKeyring {
  readonly tenantId: string;
  /** 16 random bytes named in every envelope header of the tenant. */
  readonly keyringId: Buffer;
  readonly activeVersion: number;
  /** Every data key version not retired, by version. */
  readonly dataKeys: ReadonlyMap<number, Buffer>;
  readonly indexKey: Buffer;
}

/**
 * Writes of one process share a subkey (one HKDF salt) for this many values, then take a fresh
 * salt. 2^20 random 96-bit nonces under one key keep the chance of a repeat near 2^-57, far
 * below the 2^-32 NIST allows.
 */
export const maxUsesPerSubkey = 2 ** 20;
const maxCachedSubkeys = 4096;

/** Seal, open and index for one table column of the tenant. */
export class FieldCipher {
  readonly #cipher: TenantCipher;
  readonly #prefix: Buffer;

  constructor(cipher: TenantCipher, prefix: Buffer) {
    this.#cipher = cipher;
    this.#prefix = prefix;
  }

  /** The framed place of a row: tenant, table and column (precomputed), then the row id. */
  #place(rowId: string): Buffer {
    const idLength = Buffer.byteLength(rowId, 'utf8');
    const place = Buffer.allocUnsafe(this.#prefix.length + 4 + idLength);
    this.#prefix.copy(place, 0);
    place.writeUInt32BE(idLength, this.#prefix.length);
    place.write(rowId, this.#prefix.length + 4, 'utf8');
    return place;
  }

  seal(rowId: string, value: string | Uint8Array): Buffer {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    return this.#cipher.sealAt(this.#place(rowId), bytes);
  }

  open(rowId: string, envelope: Uint8Array): Buffer {
    return this.#cipher.openAt(this.#place(rowId), envelope);
  }

  openText(rowId: string, envelope: Uint8Array): string {
    return this.open(rowId, envelope).toString('utf8');
  }
}

export interface TenantCipherOptions {
  /** Values sealed under one subkey before a fresh salt is drawn (default `maxUsesPerSubkey`). */
  maxUsesPerSubkey?: number;
  /**
   * Called when a value names a data key version newer than this cipher knows: another process
   * rotated. The owner drops the cipher so the next session loads the new version.
   */
  onNewerVersion?: () => void;
}

/** The cipher of one tenant: built from its unwrapped keyring, emptied when the keys go. */
export class TenantCipher {
  readonly tenantId: string;
  readonly activeVersion: number;
  readonly #keyring: UnwrappedKeyring;
  readonly #fields = new Map<string, FieldCipher>();
  readonly #subkeys = new Map<string, Buffer>();
  readonly #maxUses: number;
  readonly #onNewerVersion: (() => void) | undefined;
  #sealing: SealingKey | undefined;
  #uses = 0;
  #batches = 0;
  #destroyed = false;

  constructor(keyring: UnwrappedKeyring, options: TenantCipherOptions = {}) {
    this.#keyring = keyring;
    this.tenantId = keyring.tenantId;
    this.activeVersion = keyring.activeVersion;
    this.#maxUses = options.maxUsesPerSubkey ?? maxUsesPerSubkey;
    this.#onNewerVersion = options.onNewerVersion;
  }

  /** Batches of writes begun so far, each under a subkey of its own random salt. */
  get batches(): number {
    return this.#batches;
  }

  /** True once `destroy` zeroed the keys. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** The keyring id as hex, as status and deletion records name it. */
  get keyringId(): string {
    return this.#keyring.keyringId.toString('hex');
  }

  /** Versions of data keys this cipher can open, oldest first. */
  get versions(): number[] {
    return [...this.#keyring.dataKeys.keys()].sort((a, b) => a - b);
  }

  field(table: string, column: string): FieldCipher {
    const name = `${table}\u0000${column}`;
    let field = this.#fields.get(name);
    if (field === undefined) {
      field = new FieldCipher(this, frame(this.tenantId, table, column));
      this.#fields.set(name, field);
    }
    return field;
  }

  seal(table: string, column: string, rowId: string, value: string | Uint8Array): Buffer {
    return this.field(table, column).seal(rowId, value);
  }

  open(table: string, column: string, rowId: string, envelope: Uint8Array): Buffer {
    return this.field(table, column).open(rowId, envelope);
  }

  /**
   * HMAC-SHA256 of `value` under the tenant's index key, bound to table and column: equal values
   * of one tenant match, the same value of two tenants does not.
   */
  blindIndex(table: string, column: string, value: string): Buffer {
    this.#live();
    return createHmac('sha256', this.#keyring.indexKey)
      .update(frame('tenancy/blind-index/v1', table, column, value))
      .digest();
  }

  sealAt(place: Buffer, plaintext: Uint8Array): Buffer {
    this.#live();
    if (this.#sealing === undefined || this.#uses >= this.#maxUses) this.#newBatch();
    this.#uses += 1;
    return sealEnvelope(this.#sealing as SealingKey, place, plaintext);
  }

  openAt(place: Buffer, envelope: Uint8Array): Buffer {
    this.#live();
    const header = readHeader(envelope, this.tenantId);
    if (!header.keyId.equals(this.#keyring.keyringId)) {
      throw new TenancyError('DECRYPT_FAILED', {
        tenantId: this.tenantId, params: { detail: 'the value was sealed for another tenant' },
      });
    }
    return openEnvelope(this.#subkey(header.version, header.salt), envelope, place,
      this.tenantId);
  }

  /** Zeroes the keys; every later use fails with KEYS_DESTROYED instead of using zeros. */
  destroy(): void {
    this.#destroyed = true;
    for (const key of this.#keyring.dataKeys.values()) key.fill(0);
    this.#keyring.indexKey.fill(0);
    for (const key of this.#subkeys.values()) key.fill(0);
    this.#sealing?.subkey.fill(0);
    this.#subkeys.clear();
  }

  #live(): void {
    if (this.#destroyed) throw new TenancyError('KEYS_DESTROYED', { tenantId: this.tenantId });
  }

  #newBatch(): void {
    const version = this.activeVersion;
    const salt = newSalt();
    const subkey = this.#subkey(version, salt);
    this.#sealing = { keyId: this.#keyring.keyringId, version, salt, subkey };
    this.#uses = 0;
    this.#batches += 1;
  }

  #subkey(version: number, salt: Buffer): Buffer {
    // Most values a process reads it also wrote, in its current batch: no lookup for those.
    const sealing = this.#sealing;
    if (sealing !== undefined && sealing.version === version && sealing.salt.equals(salt)) {
      return sealing.subkey;
    }
    const name = `${version}:${salt.toString('hex')}`;
    const cached = this.#subkeys.get(name);
    if (cached !== undefined) return cached;
    const dataKey = this.#keyring.dataKeys.get(version);
    if (dataKey === undefined) {
      const newer = version > Math.max(0, ...this.#keyring.dataKeys.keys());
      if (newer) this.#onNewerVersion?.();
      throw new TenancyError('DECRYPT_FAILED', {
        tenantId: this.tenantId,
        params: {
          detail: newer
            ? `key version ${version} is newer than the keys loaded; the next session has it`
            : `key version ${version} is retired or unknown`,
        },
      });
    }
    const subkey = deriveSubkey(dataKey, this.#keyring.keyringId, version, salt);
    if (this.#subkeys.size >= maxCachedSubkeys) this.#subkeys.clear();
    this.#subkeys.set(name, subkey);
    return subkey;
  }

  toJSON(): string {
    return `[keys of ${this.tenantId}]`;
  }

  [inspect.custom](): string {
    return this.toJSON();
  }
}
