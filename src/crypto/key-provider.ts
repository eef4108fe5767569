// The contract every key provider meets: it holds the root key and wraps tenant master keys.
//
// The hierarchy: root key (in the provider) → tenant master key (wrapped by the root, stored in
// the tenant's region) → tenant data and index keys (wrapped by the master key). Only the first
// step crosses into a provider; everything below it is AES-256-GCM in this process.

/** What a wrapped master key is bound to: unwrapping with another context fails. */
export interface WrapContext {
  readonly tenantId: string;
  readonly region: string;
}

/** A master key as the provider returned it; opaque bytes plus the root key version used. */
export interface WrappedKey {
  /** The provider kind that made it (`local`, `pkcs11`, `aws-kms`, `vault-transit`). */
  readonly provider: string;
  /** Which root key (version) wrapped it, as the provider names it. */
  readonly rootKeyId: string;
  readonly blob: Buffer;
}

export interface KeyProvider {
  readonly kind: string;
  /** Wraps a 32-byte key under the current root key, bound to `context`. */
  wrap(key: Buffer, context: WrapContext): Promise<WrappedKey>;
  /**
   * Unwraps a key made by `wrap` with any root key version the provider still holds. A wrong
   * context, a tampered blob or a retired root fails with `KEY_UNWRAP_FAILED`.
   */
  unwrap(wrapped: WrappedKey, context: WrapContext): Promise<Buffer>;
  /** The root key version `wrap` uses now. */
  currentRootKeyId(): Promise<string>;
  /**
   * Makes a new root key version current and returns its id. Keys wrapped under older versions
   * still unwrap, so they can be rewrapped; data is never touched.
   */
  rotateRoot(): Promise<string>;
  close(): Promise<void>;
}
