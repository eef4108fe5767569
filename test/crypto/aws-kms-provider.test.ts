// The aws-kms provider against the loopback KMS test double: context, signing, rotation, refusals.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyProvider } from '../../src/crypto/key-provider.ts';
import { createKeyProvider } from '../../src/crypto/providers/index.ts';
import { isTenancyError, type ErrorCode } from '../../src/errors.ts';
import { keysConfig } from '../support/keys-config.ts';
import { KmsDouble } from '../support/kms-double.ts';

const credentials = { accessKeyId: 'AKIDKMSPROVIDER', secretAccessKey: 'kms-provider-secret-9' };
const where = { dataDir: '/nonexistent', region: 'eu' };

async function failure(promise: Promise<unknown>, code: ErrorCode): Promise<Error> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(isTenancyError(err) ? err.code : err).toBe(code);
  return err as Error;
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('aws-kms provider', () => {
  let double: KmsDouble;

  beforeAll(async () => {
    double = await KmsDouble.start({ ...credentials, region: 'eu-west-1', rotationMillis: 300 });
  });
  afterAll(async () => {
    await double.close();
  });

  function open(keyId: string, extra: Record<string, unknown> = {}): Promise<KeyProvider> {
    return createKeyProvider(keysConfig({
      provider: 'aws-kms', keyId, awsRegion: 'eu-west-1', endpoint: double.url,
      ...credentials, ...extra,
    }), where);
  }

  it('sends the tenant and region as the encryption context of Encrypt and Decrypt', async () => {
    const { keyId } = double.createKey();
    const provider = await open(keyId);
    try {
      double.calls.length = 0;
      const context = { tenantId: 'acme', region: 'eu' };
      await provider.unwrap(await provider.wrap(randomBytes(32), context), context);
      const expected = { 'tenancy:tenant': 'acme', 'tenancy:region': 'eu' };
      expect(double.calls).toEqual([
        { operation: 'Encrypt', encryptionContext: expected },
        { operation: 'Decrypt', encryptionContext: expected },
      ]);
    } finally {
      await provider.close();
    }
  });

  it('resolves an alias to the key ARN and names the key material in root key ids', async () => {
    const { arn } = double.createKey('alias/tenancy-eu');
    const provider = await open('alias/tenancy-eu');
    try {
      expect(await provider.currentRootKeyId()).toMatch(new RegExp(`^${arn}#[0-9a-f]{64}$`));
    } finally {
      await provider.close();
    }
  });

  it('rotateRoot rotates the same KMS key on demand and waits for the new material', async () => {
    const { keyId, arn } = double.createKey();
    const provider = await open(keyId);
    try {
      const before = await provider.currentRootKeyId();
      const after = await provider.rotateRoot();
      expect(after.startsWith(`${arn}#`)).toBe(true);
      expect(after).not.toBe(before);
      expect(double.materialCount(keyId)).toBe(2);
      expect(double.calls.some((call) => call.operation === 'GetKeyRotationStatus')).toBe(true);
    } finally {
      await provider.close();
    }
  });

  it('a request signed with the wrong secret is refused, and the error hides the secret',
    async () => {
      const { keyId } = double.createKey();
      const err = await failure(open(keyId, { secretAccessKey: 'not-the-secret-77' }),
        'KEY_PROVIDER_UNAVAILABLE');
      expect(err.message).toBe(
        'key provider is unavailable: KMS DescribeKey failed (InvalidSignatureException)');
      expect(`${inspect(err, { depth: 6 })}${JSON.stringify(err)}`).not.toContain('not-the-secret');
    });

  it('a disabled key cannot wrap or unwrap, and a provider does not open on it', async () => {
    const { keyId } = double.createKey();
    const provider = await open(keyId);
    try {
      const context = { tenantId: 'acme', region: 'eu' };
      const wrapped = await provider.wrap(randomBytes(32), context);
      double.setEnabled(keyId, false);
      await failure(provider.unwrap(wrapped, context), 'KEY_UNWRAP_FAILED');
      await failure(provider.wrap(randomBytes(32), context), 'KEY_PROVIDER_UNAVAILABLE');
      await failure(open(keyId), 'ROOT_KEY_INVALID');
    } finally {
      await provider.close();
    }
  });

  it('a blob made under another KMS key does not unwrap when relabelled as ours', async () => {
    const ours = double.createKey();
    const theirs = double.createKey();
    const provider = await open(ours.keyId);
    const other = await open(theirs.keyId);
    try {
      const context = { tenantId: 'acme', region: 'eu' };
      const foreign = await other.wrap(randomBytes(32), context);
      const relabelled = { ...foreign, rootKeyId: await provider.currentRootKeyId() };
      await failure(provider.unwrap(relabelled, context), 'KEY_UNWRAP_FAILED');
    } finally {
      await provider.close();
      await other.close();
    }
  });

  it('an unknown key is refused at open', async () => {
    await failure(open('alias/no-such-key'), 'ROOT_KEY_INVALID');
  });

  it('half a key pair in config is refused', async () => {
    const { keyId } = double.createKey();
    await failure(open(keyId, { secretAccessKey: undefined }), 'CONFIG_INVALID');
  });

  it('an endpoint that does not answer makes the provider unavailable', async () => {
    const port = await closedPort();
    await failure(open('alias/x', { endpoint: `http://127.0.0.1:${port}` }),
      'KEY_PROVIDER_UNAVAILABLE');
  });
});
