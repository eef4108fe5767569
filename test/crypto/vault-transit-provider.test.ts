// The vault-transit provider against the loopback Transit test double: token, context, refusals.
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyProvider } from '../../src/crypto/key-provider.ts';
import { createKeyProvider } from '../../src/crypto/providers/index.ts';
import { isTenancyError, type ErrorCode } from '../../src/errors.ts';
import { keysConfig } from '../support/keys-config.ts';
import { VaultTransitDouble } from '../support/vault-transit-double.ts';

const token = 'hvs.transit-provider-token-3';
const where = { dataDir: '/nonexistent', region: 'eu' };

async function failure(promise: Promise<unknown>, code: ErrorCode): Promise<Error> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(isTenancyError(err) ? err.code : err).toBe(code);
  return err as Error;
}

describe('vault-transit provider', () => {
  let double: VaultTransitDouble;

  beforeAll(async () => {
    double = await VaultTransitDouble.start(token);
  });
  afterAll(async () => {
    await double.close();
  });

  function open(keyName: string, extra: Record<string, unknown> = {}): Promise<KeyProvider> {
    return createKeyProvider(keysConfig({
      provider: 'vault-transit', address: double.url, token, keyName, ...extra,
    }), where);
  }

  it('creates a missing key as derived, sends the token and a context per tenant', async () => {
    double.calls.length = 0;
    const provider = await open('fresh-key');
    try {
      const key = randomBytes(32);
      const acme = { tenantId: 'acme', region: 'eu' };
      const wrapped = await provider.wrap(key, acme);
      await provider.wrap(key, { tenantId: 'globex', region: 'eu' });
      expect(Buffer.from(wrapped.blob).toString('utf8')).toMatch(/^vault:v1:/);
      expect(wrapped.rootKeyId).toBe('fresh-key:v1');
      expect((await provider.unwrap(wrapped, acme)).equals(key)).toBe(true);

      expect(double.calls.every((call) => call.token === token)).toBe(true);
      const created = double.calls
        .find((c) => c.method === 'POST' && c.path.endsWith('/keys/fresh-key'));
      expect(created?.body).toEqual({ type: 'aes256-gcm96', derived: true });
      const contexts = double.calls.filter((c) => c.path === '/v1/transit/encrypt/fresh-key')
        .map((c) => c.body.context);
      expect(contexts).toHaveLength(2);
      expect(contexts[0]).not.toBe(contexts[1]);
      expect(Buffer.from(String(contexts[0]), 'base64').includes(Buffer.from('acme'))).toBe(true);
    } finally {
      await provider.close();
    }
  });

  it('uses the configured mount', async () => {
    double.calls.length = 0;
    const provider = await open('mounted', { mount: 'tenancy-transit' });
    try {
      await provider.wrap(randomBytes(32), { tenantId: 'acme', region: 'eu' });
      expect(double.calls.map((c) => c.path)).toContain('/v1/tenancy-transit/encrypt/mounted');
    } finally {
      await provider.close();
    }
  });

  it('a wrong token fails at open, and the error hides both tokens', async () => {
    const wrong = 'hvs.not-the-token-55';
    const err = await failure(open('any', { token: wrong }), 'KEY_PROVIDER_UNAVAILABLE');
    expect(err.message).toBe(
      'key provider is unavailable: Vault refused the token when reading the transit key');
    const printed = `${inspect(err, { depth: 6 })}${JSON.stringify(err)}`;
    expect(printed).not.toContain(wrong);
    expect(printed).not.toContain(token);
  });

  it('refuses a transit key made without derivation', async () => {
    double.createKey('transit', 'plain-key', { derived: false });
    const err = await failure(open('plain-key'), 'ROOT_KEY_INVALID');
    expect(err.message).toContain('not derived');
  });

  it('a version retired by min_decryption_version no longer unwraps', async () => {
    const provider = await open('retiring');
    try {
      const context = { tenantId: 'acme', region: 'eu' };
      const old = await provider.wrap(randomBytes(32), context);
      await provider.rotateRoot();
      const fresh = await provider.wrap(randomBytes(32), context);
      double.setMinDecryptionVersion('transit', 'retiring', 2);
      await failure(provider.unwrap(old, context), 'KEY_UNWRAP_FAILED');
      expect((await provider.unwrap(fresh, context)).length).toBe(32);
    } finally {
      await provider.close();
    }
  });

  it('a root key id that disagrees with the ciphertext version fails', async () => {
    const provider = await open('agreeing');
    try {
      const context = { tenantId: 'acme', region: 'eu' };
      const wrapped = await provider.wrap(randomBytes(32), context);
      await provider.rotateRoot();
      await failure(provider.unwrap({ ...wrapped, rootKeyId: 'agreeing:v2' }, context),
        'KEY_UNWRAP_FAILED');
    } finally {
      await provider.close();
    }
  });

  it('an address where nothing listens makes the provider unavailable', async () => {
    const stopped = await VaultTransitDouble.start(token);
    const address = stopped.url;
    await stopped.close();
    await failure(createKeyProvider(keysConfig({
      provider: 'vault-transit', address, token, keyName: 'x',
    }), where), 'KEY_PROVIDER_UNAVAILABLE');
  });
});
