// Key provider on a PKCS#11 token (an HSM, or SoftHSM2): the root key never leaves the token.
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import type { KeyProviderConfig } from '../../../config/schema.ts';
import { TenancyError } from '../../../errors.ts';
import type { KeyProvider, WrapContext, WrappedKey } from '../../key-provider.ts';
import { assertWrappableKey, ProviderGate, wrapBinding } from '../provider-rules.ts';
import { acquireModule, isUnavailable, pkcs11js, type ModuleLease } from './pkcs11-module.ts';
import { createRootVersion, listRootVersions, type RootVersions } from './pkcs11-root-keys.ts';
import { findTokenSlot, SessionPool } from './pkcs11-sessions.ts';

export type Pkcs11Config = Extract<KeyProviderConfig, { provider: 'pkcs11' }>;

const kind = 'pkcs11';
const blobFormat = 1;
const ivLength = 12;
const tagLength = 16;
/** `01 | iv(12) | ciphertext(32) | tag(16)`. */
const blobLength = 1 + ivLength + 32 + tagLength;

function gcm(iv: Buffer, aad: Buffer): pkcs11js.Mechanism {
  const parameter: pkcs11js.GcmParams = {
    type: pkcs11js.CK_PARAMS_GCM, iv, ivBits: ivLength * 8, aad, tagBits: 128,
  };
  return { mechanism: pkcs11js.CKM_AES_GCM, parameter };
}

function unavailable(detail: string, cause: unknown): TenancyError {
  return new TenancyError('KEY_PROVIDER_UNAVAILABLE', { params: { detail }, cause });
}

export class Pkcs11KeyProvider implements KeyProvider {
  readonly kind = kind;
  readonly #lease: ModuleLease;
  readonly #pool: SessionPool;
  readonly #label: string;
  readonly #gate = new ProviderGate();
  #versions: RootVersions = new Map();
  #serial: Promise<unknown> = Promise.resolve();

  private constructor(lease: ModuleLease, pool: SessionPool, label: string) {
    this.#lease = lease;
    this.#pool = pool;
    this.#label = label;
  }

  /** Loads the module, logs in to the token, and finds (or on first use creates) the root key. */
  static async open(config: Pkcs11Config): Promise<Pkcs11KeyProvider> {
    const lease = acquireModule(config.module);
    let pool: SessionPool | undefined;
    try {
      pool = new SessionPool(lease.lib, findTokenSlot(lease.lib, config.tokenLabel), config.pin);
      pool.start();
      const provider = new Pkcs11KeyProvider(lease, pool, config.keyLabel);
      await provider.#refresh(true);
      return provider;
    } catch (err) {
      pool?.closeAll();
      lease.release();
      if (err instanceof TenancyError) throw err;
      throw unavailable('the PKCS#11 token could not be used', err);
    }
  }

  wrap(key: Buffer, context: WrapContext): Promise<WrappedKey> {
    return this.#gate.run(async () => {
      assertWrappableKey(key);
      const [version, handles] = [...this.#versions].at(-1) ?? [];
      const handle = handles?.[0];
      if (version === undefined || handle === undefined) {
        throw unavailable('the root key is missing', undefined);
      }
      const rootKeyId = this.#idOf(version);
      const iv = randomBytes(ivLength);
      const lib = this.#lease.lib;
      let body: Buffer;
      try {
        body = await this.#pool.with(async (session) => {
          lib.C_EncryptInit(session, gcm(iv, wrapBinding(kind, rootKeyId, context)), handle);
          return lib.C_EncryptAsync(session, key, Buffer.alloc(32 + tagLength));
        });
      } catch (err) {
        throw err instanceof TenancyError ? err : unavailable('the token failed to wrap', err);
      }
      return { provider: kind, rootKeyId, blob: Buffer.concat([Buffer.of(blobFormat), iv, body]) };
    });
  }

  unwrap(wrapped: WrappedKey, context: WrapContext): Promise<Buffer> {
    return this.#gate.run(async () => {
      const failed = new TenancyError('KEY_UNWRAP_FAILED', { tenantId: context.tenantId });
      const version = this.#versionOf(wrapped.rootKeyId);
      const blob = Buffer.from(wrapped.blob);
      if (wrapped.provider !== kind || version === undefined || blob.length !== blobLength
        || blob[0] !== blobFormat) {
        throw failed;
      }
      // Another process may have rotated since this one looked.
      if (!this.#versions.has(version)) await this.#refresh(false);
      const handles = this.#versions.get(version);
      if (handles === undefined) throw failed;
      const iv = blob.subarray(1, 1 + ivLength);
      const aad = wrapBinding(kind, wrapped.rootKeyId, context);
      const lib = this.#lease.lib;
      for (const handle of handles) {
        try {
          const key = await this.#pool.with(async (session) => {
            lib.C_DecryptInit(session, gcm(iv, aad), handle);
            return lib.C_DecryptAsync(session, blob.subarray(1 + ivLength), Buffer.alloc(48));
          });
          if (key.length === 32) return key;
        } catch (err) {
          if (err instanceof TenancyError) throw err;
          // SoftHSM2 reports a failed GCM tag as CKR_GENERAL_ERROR; only a lost token or
          // session means "try later" rather than "this blob does not open here".
          if (isUnavailable(err)) throw unavailable('the token failed to unwrap', err);
        }
      }
      throw failed;
    });
  }

  currentRootKeyId(): Promise<string> {
    return this.#gate.run(async () => {
      await this.#refresh(false);
      const version = [...this.#versions.keys()].at(-1);
      if (version === undefined) throw unavailable('the root key is missing', undefined);
      return this.#idOf(version);
    });
  }

  rotateRoot(): Promise<string> {
    return this.#gate.run(() => this.#exclusive(async () => {
      const lib = this.#lease.lib;
      try {
        const versions = await this.#pool.with(async (session) => {
          const found = listRootVersions(lib, session, this.#label);
          const next = ([...found.keys()].at(-1) ?? 0) + 1;
          found.set(next, [createRootVersion(lib, session, this.#label, next)]);
          return found;
        });
        this.#versions = versions;
        return this.#idOf([...versions.keys()].at(-1) ?? 0);
      } catch (err) {
        throw err instanceof TenancyError ? err : unavailable('the token failed to rotate', err);
      }
    }));
  }

  close(): Promise<void> {
    return this.#gate.close(async () => {
      this.#pool.closeAll();
      this.#lease.release();
    });
  }

  toJSON(): string {
    return `[pkcs11 key provider, root key ${this.#label}]`;
  }

  [inspect.custom](): string {
    return this.toJSON();
  }

  /** `tenancy-root:v3`: the object's label and its version (its `CKA_ID`). */
  #idOf(version: number): string {
    return `${this.#label}:v${version}`;
  }

  #versionOf(rootKeyId: string): number | undefined {
    const prefix = `${this.#label}:v`;
    if (!rootKeyId.startsWith(prefix)) return undefined;
    const digits = rootKeyId.slice(prefix.length);
    return /^[1-9][0-9]{0,8}$/.test(digits) ? Number(digits) : undefined;
  }

  /** Reads the versions from the token; with `create`, makes version 1 if there is none. */
  #refresh(create: boolean): Promise<void> {
    return this.#exclusive(async () => {
      const lib = this.#lease.lib;
      try {
        this.#versions = await this.#pool.with(async (session) => {
          const found = listRootVersions(lib, session, this.#label);
          if (found.size === 0 && create) {
            found.set(1, [createRootVersion(lib, session, this.#label, 1)]);
          }
          return found;
        });
      } catch (err) {
        throw err instanceof TenancyError ? err : unavailable('the token could not be read', err);
      }
    });
  }

  /** Runs scans and rotations one at a time, so two rotations never pick one version. */
  #exclusive<T>(step: () => Promise<T>): Promise<T> {
    const next = this.#serial.then(() => step());
    this.#serial = next.catch(() => undefined);
    return next;
  }
}
