// The `local` key provider: root keys from a key file (0600, made on first run) or an env var.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { inspect } from 'node:util';
import type { KeyProviderConfig } from '../../../config/schema.ts';
import { TenancyError } from '../../../errors.ts';
import type { KeyProvider, WrapContext, WrappedKey } from '../../key-provider.ts';
import { assertWrappableKey, ProviderGate, wrapBinding } from '../provider-rules.ts';
import { EnvVarSource, KeyFileSource, type RootKeySource } from './root-key-source.ts';

export type LocalKeyProviderConfig = Extract<KeyProviderConfig, { provider: 'local' }>;

const blobFormat = 1;
const nonceLength = 12;
const tagLength = 16;
const rootKeyIdShape = /^v([1-9][0-9]{0,8})-([0-9a-f]{8})$/;

/**
 * A short, one-way name of a root key: its version and 32 bits of an HMAC under the key itself,
 * so a replaced key file is told apart from the one that wrapped a key.
 */
function rootKeyId(version: number, key: Buffer): string {
  const mark = createHmac('sha256', key).update('tenancy/root-key-id').digest('hex').slice(0, 8);
  return `v${version}-${mark}`;
}

export class LocalKeyProvider implements KeyProvider {
  readonly kind = 'local';
  readonly #source: RootKeySource;
  readonly #region: string;
  // Version → key, and the id each version is known by.
  readonly #roots = new Map<number, { id: string; key: Buffer }>();
  #current = 0;
  readonly #gate = new ProviderGate();

  private constructor(source: RootKeySource, region: string) {
    this.#source = source;
    this.#region = region;
  }

  /**
   * Opens the provider of one region: reads every root key version, creating version 1 as a
   * 0600 key file when it is missing. A key that is short, malformed or readable by others is
   * refused with ROOT_KEY_INVALID.
   */
  static async open(
    config: LocalKeyProviderConfig,
    where: { dataDir: string; region: string },
    env: NodeJS.ProcessEnv = process.env,
  ): Promise<LocalKeyProvider> {
    const source: RootKeySource = config.env !== undefined
      ? new EnvVarSource(config.env, env)
      : new KeyFileSource(config.file ?? join(where.dataDir, 'keys', `${where.region}.root`));
    const provider = new LocalKeyProvider(source, where.region);
    if (source.read(1) === undefined) source.create(1);
    provider.#scan();
    return provider;
  }

  /** Reads versions after the newest one known; another process may have rotated. */
  #scan(): void {
    for (let version = this.#current + 1; ; version += 1) {
      const key = this.#source.read(version);
      if (key === undefined) {
        if (version === 1) {
          throw new TenancyError('ROOT_KEY_INVALID', {
            params: { detail: `${this.#source.describe(1)} is missing` },
          });
        }
        return;
      }
      this.#roots.set(version, { id: rootKeyId(version, key), key });
      this.#current = version;
    }
  }

  #root(id: string): Buffer | undefined {
    const match = rootKeyIdShape.exec(id);
    if (match === null) return undefined;
    const version = Number(match[1]);
    if (!this.#roots.has(version)) this.#scan();
    const root = this.#roots.get(version);
    return root?.id === id ? root.key : undefined;
  }

  wrap(key: Buffer, context: WrapContext): Promise<WrappedKey> {
    return this.#gate.run(async () => this.#wrap(key, context));
  }

  #wrap(key: Buffer, context: WrapContext): WrappedKey {
    assertWrappableKey(key);
    const root = this.#roots.get(this.#current) as { id: string; key: Buffer };
    const nonce = randomBytes(nonceLength);
    const cipher = createCipheriv('aes-256-gcm', root.key, nonce);
    cipher.setAAD(this.#binding(root.id, context));
    const body = Buffer.concat([cipher.update(key), cipher.final()]);
    const blob = Buffer.concat([Buffer.of(blobFormat), nonce, body, cipher.getAuthTag()]);
    return { provider: this.kind, rootKeyId: root.id, blob };
  }

  unwrap(wrapped: WrappedKey, context: WrapContext): Promise<Buffer> {
    return this.#gate.run(async () => this.#unwrap(wrapped, context));
  }

  #unwrap(wrapped: WrappedKey, context: WrapContext): Buffer {
    const fail = (cause?: unknown): TenancyError =>
      new TenancyError('KEY_UNWRAP_FAILED', { tenantId: context.tenantId, cause });
    const blob = Buffer.from(wrapped.blob);
    const root = wrapped.provider === this.kind ? this.#root(wrapped.rootKeyId) : undefined;
    if (root === undefined || blob.length !== 1 + nonceLength + 32 + tagLength ||
      blob[0] !== blobFormat) {
      throw fail();
    }
    const decipher = createDecipheriv('aes-256-gcm', root, blob.subarray(1, 1 + nonceLength));
    decipher.setAAD(this.#binding(wrapped.rootKeyId, context));
    decipher.setAuthTag(blob.subarray(blob.length - tagLength));
    const key = decipher.update(blob.subarray(1 + nonceLength, blob.length - tagLength));
    try {
      decipher.final();
    } catch (err) {
      key.fill(0);
      throw fail(err);
    }
    return key;
  }

  currentRootKeyId(): Promise<string> {
    return this.#gate.run(async () => {
      this.#scan();
      return (this.#roots.get(this.#current) as { id: string }).id;
    });
  }

  /** Writes the next version (a new key file) and makes it current; older ones stay readable. */
  rotateRoot(): Promise<string> {
    return this.#gate.run(async () => {
      this.#scan();
      // Another process may write the same version first; then its key is the new one.
      this.#source.create(this.#current + 1);
      this.#scan();
      return (this.#roots.get(this.#current) as { id: string }).id;
    });
  }

  close(): Promise<void> {
    return this.#gate.close(async () => {
      for (const root of this.#roots.values()) root.key.fill(0);
      this.#roots.clear();
    });
  }

  #binding(id: string, context: WrapContext): Buffer {
    return wrapBinding(this.kind, id, context);
  }

  toJSON(): string {
    return `[local key provider of ${this.#region}]`;
  }

  [inspect.custom](): string {
    return this.toJSON();
  }
}
