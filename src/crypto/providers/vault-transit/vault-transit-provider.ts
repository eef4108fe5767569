// Key provider on Vault's Transit engine: a derived transit key is the root key.
import { inspect } from 'node:util';
import type { KeyProviderConfig } from '../../../config/schema.ts';
import { TenancyError } from '../../../errors.ts';
import type { KeyProvider, WrapContext, WrappedKey } from '../../key-provider.ts';
import { assertWrappableKey, contextBinding, ProviderGate } from '../provider-rules.ts';
import { TransitClient, type TransitKeyInfo } from './transit-client.ts';

export type VaultTransitConfig = Extract<KeyProviderConfig, { provider: 'vault-transit' }>;

const kind = 'vault-transit';
// Types whose encrypt and decrypt are AEADs with 256-bit keys and take a derivation context.
const usableTypes = new Set(['aes256-gcm96', 'chacha20-poly1305']);
const ciphertextShape = /^vault:v([1-9][0-9]{0,8}):[A-Za-z0-9+/]+={0,2}$/;

function unusable(detail: string): TenancyError {
  return new TenancyError('ROOT_KEY_INVALID', { params: { detail } });
}

/**
 * A derived key makes Vault compute a key per `context` (HKDF under the key version), so a
 * master key wrapped for one tenant and region opens only with that tenant's and region's
 * context. The context is the framed tenant and region, base64 as Transit wants it.
 */
function derivationContext(context: WrapContext): string {
  return contextBinding(kind, context).toString('base64');
}

export class VaultTransitKeyProvider implements KeyProvider {
  readonly kind = kind;
  readonly #client: TransitClient;
  readonly #keyName: string;
  readonly #gate = new ProviderGate();

  private constructor(client: TransitClient, keyName: string) {
    this.#client = client;
    this.#keyName = keyName;
  }

  /**
   * Checks the transit key is derived and of a usable type. A missing key is created (derived,
   * aes256-gcm96) when the token may; a key made without `derived` cannot be changed into one.
   */
  static async open(config: VaultTransitConfig): Promise<VaultTransitKeyProvider> {
    const client = new TransitClient(config.address, config.token, config.mount, config.keyName);
    let info = await client.readKey();
    if (info === undefined) {
      client.expect(await client.call('keys', { type: 'aes256-gcm96', derived: true }),
        'creating the transit key');
      info = await client.readKey();
      if (info === undefined) throw unusable('Vault did not keep the created transit key');
    }
    VaultTransitKeyProvider.#check(info);
    return new VaultTransitKeyProvider(client, config.keyName);
  }

  static #check(info: TransitKeyInfo): void {
    if (!info.derived) throw unusable('the transit key is not derived (derived=true)');
    if (!usableTypes.has(info.type)) {
      throw unusable(`the transit key type ${info.type} wraps no keys here`);
    }
  }

  wrap(key: Buffer, context: WrapContext): Promise<WrappedKey> {
    return this.#gate.run(async () => {
      assertWrappableKey(key);
      const data = this.#client.expect(await this.#client.call('encrypt', {
        plaintext: key.toString('base64'), context: derivationContext(context),
      }), 'wrapping');
      const ciphertext = typeof data.ciphertext === 'string' ? data.ciphertext : '';
      const version = ciphertextShape.exec(ciphertext)?.[1];
      if (version === undefined) {
        throw new TenancyError('KEY_PROVIDER_UNAVAILABLE', {
          params: { detail: 'Vault answered encrypt without a ciphertext' },
        });
      }
      return {
        provider: kind, rootKeyId: this.#idOf(Number(version)),
        blob: Buffer.from(ciphertext, 'utf8'),
      };
    });
  }

  unwrap(wrapped: WrappedKey, context: WrapContext): Promise<Buffer> {
    return this.#gate.run(async () => {
      const failed = new TenancyError('KEY_UNWRAP_FAILED', { tenantId: context.tenantId });
      const ciphertext = Buffer.from(wrapped.blob).toString('utf8');
      const version = ciphertextShape.exec(ciphertext)?.[1];
      // Vault reads the version from the `vault:vN:` prefix; the id stored beside the blob
      // must say the same, or one of the two was altered.
      if (wrapped.provider !== kind || version === undefined
        || wrapped.rootKeyId !== this.#idOf(Number(version))) {
        throw failed;
      }
      const answer = await this.#client.call('decrypt', {
        ciphertext, context: derivationContext(context),
      });
      // 400 is Transit's answer to a failed tag, a wrong context and a version below
      // min_decryption_version alike: in every case this blob does not open here.
      if (answer.status === 400) throw failed;
      const data = this.#client.expect(answer, 'unwrapping');
      const key = typeof data.plaintext === 'string'
        ? Buffer.from(data.plaintext, 'base64') : undefined;
      if (key?.length !== 32) throw failed;
      return key;
    });
  }

  currentRootKeyId(): Promise<string> {
    return this.#gate.run(async () => this.#idOf(await this.#latest()));
  }

  /** Asks Transit for a new key version; older versions still decrypt. */
  rotateRoot(): Promise<string> {
    return this.#gate.run(async () => {
      const before = await this.#latest();
      this.#client.expect(await this.#client.call('keys', {}, '/rotate'), 'rotating');
      const after = await this.#latest();
      if (after <= before) {
        throw new TenancyError('KEY_PROVIDER_UNAVAILABLE', {
          params: { detail: 'Vault reported no new transit key version after rotating' },
        });
      }
      return this.#idOf(after);
    });
  }

  close(): Promise<void> {
    return this.#gate.close(async () => undefined);
  }

  toJSON(): string {
    return `[vault-transit key provider, key ${this.#keyName}]`;
  }

  [inspect.custom](): string {
    return this.toJSON();
  }

  /** `<key name>:v<n>`, n being the Transit key version in the ciphertext's prefix. */
  #idOf(version: number): string {
    return `${this.#keyName}:v${version}`;
  }

  async #latest(): Promise<number> {
    const info = await this.#client.readKey();
    if (info === undefined) throw unusable('the transit key no longer exists');
    return info.latestVersion;
  }
}
