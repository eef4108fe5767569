// Key provider on AWS KMS (or a KMS-compatible endpoint): a symmetric KMS key is the root key.
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import {
  DecryptCommand, DescribeKeyCommand, EncryptCommand, GetKeyRotationStatusCommand, KMSClient,
  RotateKeyOnDemandCommand, type KeyMetadata,
} from '@aws-sdk/client-kms';
import type { KeyProviderConfig } from '../../../config/schema.ts';
import { TenancyError } from '../../../errors.ts';
import type { KeyProvider, WrapContext, WrappedKey } from '../../key-provider.ts';
import { assertWrappableKey, ProviderGate } from '../provider-rules.ts';
import { isNamed, unavailableError, unwrapError } from './kms-errors.ts';

export type AwsKmsConfig = Extract<KeyProviderConfig, { provider: 'aws-kms' }>;

const kind = 'aws-kms';
/** How long rotateRoot waits for KMS to finish an on-demand rotation. */
const rotationDeadlineMillis = 120_000;

/**
 * KMS authenticates the encryption context with the ciphertext and demands the same pairs on
 * Decrypt, so a master key wrapped for one tenant or region never unwraps for another. The
 * pairs show in CloudTrail: they hold ids, never secrets.
 */
function encryptionContext(context: WrapContext): Record<string, string> {
  return { 'tenancy:tenant': context.tenantId, 'tenancy:region': context.region };
}

/**
 * Root key ids are `<key ARN>#<key material id>`. A KMS key keeps its ARN when it rotates and
 * gets new key material, so the ARN alone cannot say which root wrapped a key; the material id
 * (DescribeKey's CurrentKeyMaterialId) can. KMS keeps every old material and picks the right one
 * from the ciphertext itself, so the material part only tells rotation which wraps are old.
 * An endpoint that reports no material id gets ids of the ARN alone.
 */
function rootKeyIdOf(metadata: KeyMetadata): string {
  const arn = metadata.Arn ?? metadata.KeyId ?? '';
  const material = metadata.CurrentKeyMaterialId;
  return material === undefined ? arn : `${arn}#${material}`;
}

function arnOf(rootKeyId: string): string {
  const hash = rootKeyId.indexOf('#');
  return hash === -1 ? rootKeyId : rootKeyId.slice(0, hash);
}

export class AwsKmsKeyProvider implements KeyProvider {
  readonly kind = kind;
  readonly #client: KMSClient;
  readonly #arn: string;
  readonly #gate = new ProviderGate();
  #current: string;

  private constructor(client: KMSClient, metadata: KeyMetadata) {
    this.#client = client;
    this.#arn = metadata.Arn ?? '';
    this.#current = rootKeyIdOf(metadata);
  }

  /** Resolves the configured key (id, ARN or alias) and checks it can wrap. */
  static async open(config: AwsKmsConfig): Promise<AwsKmsKeyProvider> {
    if ((config.accessKeyId === undefined) !== (config.secretAccessKey === undefined)) {
      throw new TenancyError('CONFIG_INVALID', {
        params: { detail: 'aws-kms needs both accessKeyId and secretAccessKey, or neither' },
      });
    }
    const client = new KMSClient({
      region: config.awsRegion,
      ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
      // Without keys in config the SDK's own chain (env, profile, instance role) answers.
      ...(config.accessKeyId === undefined || config.secretAccessKey === undefined ? {} : {
        credentials: {
          accessKeyId: config.accessKeyId,
          secretAccessKey: config.secretAccessKey.reveal(),
        },
      }),
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 10_000 },
    });
    try {
      const metadata = await AwsKmsKeyProvider.#describe(client, config.keyId);
      if (metadata.KeySpec !== 'SYMMETRIC_DEFAULT' || metadata.KeyUsage !== 'ENCRYPT_DECRYPT') {
        throw new TenancyError('ROOT_KEY_INVALID', {
          params: { detail: 'the KMS key is not a symmetric encryption key' },
        });
      }
      if (metadata.KeyState !== 'Enabled' || metadata.Arn === undefined) {
        throw new TenancyError('ROOT_KEY_INVALID', {
          params: { detail: `the KMS key is ${metadata.KeyState ?? 'in an unknown state'}` },
        });
      }
      return new AwsKmsKeyProvider(client, metadata);
    } catch (err) {
      client.destroy();
      throw err;
    }
  }

  static async #describe(client: KMSClient, keyId: string): Promise<KeyMetadata> {
    try {
      const { KeyMetadata: metadata } = await client.send(new DescribeKeyCommand({ KeyId: keyId }));
      if (metadata === undefined) throw new Error('DescribeKey returned no metadata');
      return metadata;
    } catch (err) {
      if (isNamed(err, 'NotFoundException')) {
        throw new TenancyError('ROOT_KEY_INVALID', {
          params: { detail: 'the KMS key was not found' }, cause: err,
        });
      }
      throw unavailableError('DescribeKey', err);
    }
  }

  wrap(key: Buffer, context: WrapContext): Promise<WrappedKey> {
    return this.#gate.run(async () => {
      assertWrappableKey(key);
      // Read before the call: if KMS rotates meanwhile, the wrap is labelled older than it is,
      // which only makes root rotation rewrap it once more.
      const rootKeyId = this.#current;
      let blob: Uint8Array | undefined;
      try {
        ({ CiphertextBlob: blob } = await this.#client.send(new EncryptCommand({
          KeyId: this.#arn, Plaintext: key, EncryptionContext: encryptionContext(context),
        })));
      } catch (err) {
        throw unavailableError('Encrypt', err);
      }
      if (blob === undefined) throw unavailableError('Encrypt', undefined);
      return { provider: kind, rootKeyId, blob: Buffer.from(blob) };
    });
  }

  unwrap(wrapped: WrappedKey, context: WrapContext): Promise<Buffer> {
    return this.#gate.run(async () => {
      const failed = new TenancyError('KEY_UNWRAP_FAILED', { tenantId: context.tenantId });
      const arn = arnOf(wrapped.rootKeyId);
      if (wrapped.provider !== kind || !arn.startsWith('arn:') || wrapped.blob.length === 0) {
        throw failed;
      }
      let plaintext: Uint8Array | undefined;
      try {
        // Naming the key makes KMS refuse a blob made under any other key.
        ({ Plaintext: plaintext } = await this.#client.send(new DecryptCommand({
          KeyId: arn, CiphertextBlob: wrapped.blob, EncryptionContext: encryptionContext(context),
        })));
      } catch (err) {
        throw unwrapError(err, context.tenantId);
      }
      if (plaintext?.length !== 32) throw failed;
      return Buffer.from(plaintext);
    });
  }

  currentRootKeyId(): Promise<string> {
    return this.#gate.run(async () => {
      this.#current = rootKeyIdOf(await AwsKmsKeyProvider.#describe(this.#client, this.#arn));
      return this.#current;
    });
  }

  /**
   * Asks KMS for on-demand rotation: new key material under the same key and ARN. KMS rotates
   * in the background, so this waits until the key reports its new current material.
   */
  rotateRoot(): Promise<string> {
    return this.#gate.run(async () => {
      const before = rootKeyIdOf(await AwsKmsKeyProvider.#describe(this.#client, this.#arn));
      try {
        await this.#client.send(new RotateKeyOnDemandCommand({ KeyId: this.#arn }));
      } catch (err) {
        // A rotation already running (ours or another process's) is one to wait for.
        if (!isNamed(err, 'ConflictException')) throw unavailableError('RotateKeyOnDemand', err);
      }
      const deadline = Date.now() + rotationDeadlineMillis;
      for (let pause = 100; Date.now() < deadline; pause = Math.min(pause * 2, 2_000)) {
        await sleep(pause);
        let running: Date | undefined;
        try {
          ({ OnDemandRotationStartDate: running } = await this.#client.send(
            new GetKeyRotationStatusCommand({ KeyId: this.#arn })));
        } catch (err) {
          throw unavailableError('GetKeyRotationStatus', err);
        }
        if (running !== undefined) continue;
        const metadata = await AwsKmsKeyProvider.#describe(this.#client, this.#arn);
        const now = rootKeyIdOf(metadata);
        if (now !== before || metadata.CurrentKeyMaterialId === undefined) {
          this.#current = now;
          return now;
        }
      }
      throw new TenancyError('KEY_PROVIDER_UNAVAILABLE', {
        params: { detail: 'KMS did not finish the key rotation in time; rotate again later' },
      });
    });
  }

  close(): Promise<void> {
    return this.#gate.close(async () => {
      this.#client.destroy();
    });
  }

  toJSON(): string {
    return `[aws-kms key provider, ${this.#arn}]`;
  }

  [inspect.custom](): string {
    return this.toJSON();
  }
}
