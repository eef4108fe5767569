// The pkcs11 provider on a real SoftHSM2 token: what lives in the token, and how it fails.
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyProvider } from '../../src/crypto/key-provider.ts';
import { createKeyProvider } from '../../src/crypto/providers/index.ts';
import { acquireModule, pkcs11js } from '../../src/crypto/providers/pkcs11/pkcs11-module.ts';
import { isTenancyError } from '../../src/errors.ts';
import { keysConfig } from '../support/keys-config.ts';
import { createSoftHsmToken, softHsmModule, type SoftHsmToken } from '../support/softhsm.ts';

const module = softHsmModule();
const where = { dataDir: '/nonexistent', region: 'eu' };

describe.skipIf(module === undefined)('pkcs11 provider on SoftHSM2', () => {
  let token: SoftHsmToken;

  beforeAll(async () => {
    token = await createSoftHsmToken(module as string, 'tenancy-pkcs11');
  });
  afterAll(async () => {
    await token.cleanup();
  });

  function open(extra: Record<string, unknown> = {}): Promise<KeyProvider> {
    return createKeyProvider(keysConfig({
      provider: 'pkcs11', module, tokenLabel: token.tokenLabel, pin: token.pin, ...extra,
    }), where);
  }

  /** Looks into the token through a session of its own: attributes of the labelled objects. */
  function inspectToken(label: string): { id: string; sensitive: boolean;
    extractable: boolean; valueReadable: boolean }[] {
    const lease = acquireModule(module as string);
    const lib = lease.lib;
    const slot = lib.C_GetSlotList(true)
      .find((s) => lib.C_GetTokenInfo(s).label.trimEnd() === token.tokenLabel) as Buffer;
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
    try {
      try {
        lib.C_Login(session, pkcs11js.CKU_USER, token.pin);
      } catch (err) {
        if ((err as { code?: number }).code !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw err;
      }
      lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: label }]);
      const handles = lib.C_FindObjects(session, 100);
      lib.C_FindObjectsFinal(session);
      return handles.map((handle) => {
        const [id, sensitive, extractable] = lib.C_GetAttributeValue(session, handle, [
          { type: pkcs11js.CKA_ID }, { type: pkcs11js.CKA_SENSITIVE },
          { type: pkcs11js.CKA_EXTRACTABLE },
        ]);
        let valueReadable = true;
        try {
          lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_VALUE }]);
        } catch {
          valueReadable = false;
        }
        return {
          id: id?.value.toString('latin1') ?? '', sensitive: sensitive?.value[0] === 1,
          extractable: extractable?.value[0] === 1, valueReadable,
        };
      }).sort((a, b) => a.id.localeCompare(b.id));
    } finally {
      lib.C_CloseSession(session);
      lease.release();
    }
  }

  it('keeps one sensitive, non-extractable root object however many tenants it wraps for',
    async () => {
      const provider = await open({ keyLabel: 'one-root' });
      try {
        for (let i = 0; i < 12; i += 1) {
          await provider.wrap(randomBytes(32), { tenantId: `t${i}`, region: 'eu' });
        }
        expect(inspectToken('one-root')).toEqual([
          { id: '1', sensitive: true, extractable: false, valueReadable: false },
        ]);
        expect(await provider.currentRootKeyId()).toBe('one-root:v1');
        expect(await provider.rotateRoot()).toBe('one-root:v2');
        expect(inspectToken('one-root').map((o) => o.id)).toEqual(['1', '2']);
      } finally {
        await provider.close();
      }
    });

  it('a blob is 61 bytes and does not contain the key', async () => {
    const provider = await open();
    try {
      const key = randomBytes(32);
      const wrapped = await provider.wrap(key, { tenantId: 'acme', region: 'eu' });
      expect(wrapped.blob.length).toBe(61);
      expect(Buffer.from(wrapped.blob).includes(key.subarray(0, 8))).toBe(false);
    } finally {
      await provider.close();
    }
  });

  it('a wrong PIN fails at open, and the error does not carry the PIN', async () => {
    const wrongPin = `${token.pin}-wrong`;
    const err = await open({ pin: wrongPin }).then(() => undefined, (e: unknown) => e);
    expect(isTenancyError(err, 'KEY_PROVIDER_UNAVAILABLE')).toBe(true);
    expect((err as Error).message).toBe('key provider is unavailable: the token refused the PIN');
    expect(`${inspect(err, { depth: 5 })}${JSON.stringify(err)}`).not.toContain(wrongPin);
  });

  it('an unknown token label fails at open', async () => {
    const err = await createKeyProvider(keysConfig({
      provider: 'pkcs11', module, tokenLabel: 'no-such-token', pin: token.pin,
    }), where).then(() => undefined, (e: unknown) => e);
    expect(isTenancyError(err, 'KEY_PROVIDER_UNAVAILABLE')).toBe(true);
    expect((err as Error).message).toContain('no PKCS#11 token has the configured label');
  });

  it('a missing module fails at open', async () => {
    const err = await createKeyProvider(keysConfig({
      provider: 'pkcs11', module: '/nonexistent/libnothing.so', tokenLabel: 'x', pin: '1',
    }), where).then(() => undefined, (e: unknown) => e);
    expect(isTenancyError(err, 'KEY_PROVIDER_UNAVAILABLE')).toBe(true);
  });

  it('refuses an extractable key that someone made under the root label', async () => {
    const lease = acquireModule(module as string);
    const lib = lease.lib;
    const slot = lib.C_GetSlotList(true)
      .find((s) => lib.C_GetTokenInfo(s).label.trimEnd() === token.tokenLabel) as Buffer;
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      try {
        lib.C_Login(session, pkcs11js.CKU_USER, token.pin);
      } catch (err) {
        if ((err as { code?: number }).code !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw err;
      }
      lib.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_VALUE_LEN, value: 32 }, { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: false },
        { type: pkcs11js.CKA_EXTRACTABLE, value: true },
        { type: pkcs11js.CKA_LABEL, value: 'weak-root' },
        { type: pkcs11js.CKA_ID, value: Buffer.from('1') },
      ]);
    } finally {
      lib.C_CloseSession(session);
      lease.release();
    }
    const err = await open({ keyLabel: 'weak-root' }).then(() => undefined, (e: unknown) => e);
    expect(isTenancyError(err, 'ROOT_KEY_INVALID')).toBe(true);
    expect((err as Error).message).toContain('extractable or not sensitive');
  });

  it('two providers share the module; closing one leaves the other working', async () => {
    const first = await open();
    const second = await open();
    const context = { tenantId: 'shared', region: 'eu' };
    const key = randomBytes(32);
    const wrapped = await first.wrap(key, context);
    await first.close();
    expect((await second.unwrap(wrapped, context)).equals(key)).toBe(true);
    await second.close();
  });
});
