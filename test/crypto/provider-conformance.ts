// The one suite every key provider passes: what the KeyProvider contract promises, tested.
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KeyProvider, WrapContext, WrappedKey } from '../../src/crypto/key-provider.ts';
import { isTenancyError, type ErrorCode } from '../../src/errors.ts';

export interface ProviderFixture {
  /** Opens another provider on the same root key (same key file, token, KMS key, Vault key). */
  open(): Promise<KeyProvider>;
  /** Strings that must never show in an error or a printed provider (PIN, token, secret). */
  readonly secrets: readonly string[];
  cleanup(): Promise<void>;
}

let tenantSeq = 0;
function freshContext(region = 'eu'): WrapContext {
  tenantSeq += 1;
  return { tenantId: `tenant-${tenantSeq}-${randomBytes(3).toString('hex')}`, region };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, and it succeeded');
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<unknown> {
  const err = await failure(promise);
  if (!isTenancyError(err)) throw err;
  expect(err.code).toBe(code);
  return err;
}

function tampered(wrapped: WrappedKey, at: number): WrappedKey {
  const blob = Buffer.from(wrapped.blob);
  const index = ((at % blob.length) + blob.length) % blob.length;
  blob[index] = (blob[index] as number) ^ 0x01;
  return { ...wrapped, blob };
}

/**
 * Runs the contract against the provider `setup` makes. `skip` names why it cannot run here
 * (e.g. no SoftHSM2 outside CI); under CI=true the fixtures throw instead of skipping.
 */
export function providerConformance(
  name: string, setup: () => Promise<ProviderFixture | undefined>,
): void {
  describe(`key provider conformance: ${name}`, () => {
    let fixture: ProviderFixture | undefined;
    const opened: KeyProvider[] = [];

    beforeAll(async () => {
      fixture = await setup();
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((provider) => provider.close()));
    });
    afterAll(async () => {
      await fixture?.cleanup();
    });

    async function open(): Promise<KeyProvider> {
      if (fixture === undefined) throw new Error('fixture missing');
      const provider = await fixture.open();
      opened.push(provider);
      return provider;
    }

    const test = (title: string, body: () => Promise<void>): void => {
      it(title, async (ctx) => {
        if (fixture === undefined) ctx.skip();
        await body();
      });
    };

    test('a wrapped key unwraps to the same bytes under the current root', async () => {
      const provider = await open();
      const key = randomBytes(32);
      const context = freshContext();
      const wrapped = await provider.wrap(key, context);
      expect(wrapped.provider).toBe(provider.kind);
      expect(wrapped.rootKeyId).toBe(await provider.currentRootKeyId());
      expect(Buffer.from(wrapped.blob).includes(key)).toBe(false);
      expect((await provider.unwrap(wrapped, context)).equals(key)).toBe(true);
    });

    test('a key wrapped by one instance unwraps in another on the same root', async () => {
      const first = await open();
      const context = freshContext();
      const key = randomBytes(32);
      const wrapped = await first.wrap(key, context);
      await first.close();
      const second = await open();
      expect((await second.unwrap(wrapped, context)).equals(key)).toBe(true);
    });

    test('another tenant or another region cannot unwrap the key', async () => {
      const provider = await open();
      const context = freshContext('eu');
      const wrapped = await provider.wrap(randomBytes(32), context);
      const otherTenant = { ...context, tenantId: `${context.tenantId}x` };
      await expectCode(provider.unwrap(wrapped, otherTenant), 'KEY_UNWRAP_FAILED');
      await expectCode(provider.unwrap(wrapped, { ...context, region: 'us' }),
        'KEY_UNWRAP_FAILED');
    });

    test('a tampered, truncated or relabelled blob fails with KEY_UNWRAP_FAILED', async () => {
      const provider = await open();
      const context = freshContext();
      const wrapped = await provider.wrap(randomBytes(32), context);
      const length = wrapped.blob.length;
      for (const at of [0, Math.floor(length / 2), length - 1]) {
        await expectCode(provider.unwrap(tampered(wrapped, at), context), 'KEY_UNWRAP_FAILED');
      }
      const truncated = { ...wrapped, blob: Buffer.from(wrapped.blob).subarray(0, length - 1) };
      await expectCode(provider.unwrap(truncated, context), 'KEY_UNWRAP_FAILED');
      await expectCode(provider.unwrap({ ...wrapped, blob: Buffer.alloc(0) }, context),
        'KEY_UNWRAP_FAILED');
      await expectCode(provider.unwrap({ ...wrapped, rootKeyId: 'no-such-root' }, context),
        'KEY_UNWRAP_FAILED');
      await expectCode(provider.unwrap({ ...wrapped, provider: 'other' }, context),
        'KEY_UNWRAP_FAILED');
    });

    test('a key that is not 32 bytes is refused with KEY_INVALID', async () => {
      const provider = await open();
      for (const length of [0, 16, 31, 33, 64]) {
        await expectCode(provider.wrap(randomBytes(length), freshContext()), 'KEY_INVALID');
      }
    });

    test('two wraps of one key in one context differ, and both unwrap', async () => {
      const provider = await open();
      const key = randomBytes(32);
      const context = freshContext();
      const first = await provider.wrap(key, context);
      const second = await provider.wrap(key, context);
      expect(Buffer.from(first.blob).equals(Buffer.from(second.blob))).toBe(false);
      expect((await provider.unwrap(first, context)).equals(key)).toBe(true);
      expect((await provider.unwrap(second, context)).equals(key)).toBe(true);
    });

    test('rotateRoot makes a new current root; keys wrapped before still unwrap', async () => {
      const provider = await open();
      const context = freshContext();
      const oldKey = randomBytes(32);
      const before = await provider.currentRootKeyId();
      const old = await provider.wrap(oldKey, context);
      expect(old.rootKeyId).toBe(before);

      const rotated = await provider.rotateRoot();
      expect(rotated).not.toBe(before);
      expect(await provider.currentRootKeyId()).toBe(rotated);

      const newKey = randomBytes(32);
      const fresh = await provider.wrap(newKey, context);
      expect(fresh.rootKeyId).toBe(rotated);
      expect((await provider.unwrap(old, context)).equals(oldKey)).toBe(true);
      expect((await provider.unwrap(fresh, context)).equals(newKey)).toBe(true);

      // Another instance sees the rotation and opens both.
      const other = await open();
      expect(await other.currentRootKeyId()).toBe(rotated);
      expect((await other.unwrap(old, context)).equals(oldKey)).toBe(true);
      expect((await other.unwrap(fresh, context)).equals(newKey)).toBe(true);
    });

    test('after close every call fails with KEY_PROVIDER_CLOSED, and close again is fine',
      async () => {
        const provider = await open();
        const context = freshContext();
        const wrapped = await provider.wrap(randomBytes(32), context);
        await provider.close();
        await expectCode(provider.wrap(randomBytes(32), context), 'KEY_PROVIDER_CLOSED');
        await expectCode(provider.unwrap(wrapped, context), 'KEY_PROVIDER_CLOSED');
        await expectCode(provider.currentRootKeyId(), 'KEY_PROVIDER_CLOSED');
        await expectCode(provider.rotateRoot(), 'KEY_PROVIDER_CLOSED');
        await provider.close();
      });

    test('concurrent wraps and unwraps each get their own key back', async () => {
      const provider = await open();
      const jobs = Array.from({ length: 24 },
        () => ({ key: randomBytes(32), context: freshContext() }));
      const wrapped = await Promise.all(jobs.map((job) => provider.wrap(job.key, job.context)));
      const keys = await Promise.all(wrapped.map((w, i) =>
        provider.unwrap(w, (jobs[i] as { context: WrapContext }).context)));
      keys.forEach((key, i) => expect(key.equals((jobs[i] as { key: Buffer }).key)).toBe(true));
      expect(new Set(wrapped.map((w) => Buffer.from(w.blob).toString('hex'))).size)
        .toBe(jobs.length);
    });

    test('errors and the printed provider carry no secrets', async () => {
      const provider = await open();
      const context = freshContext();
      const wrapped = await provider.wrap(randomBytes(32), context);
      const errors = [
        await failure(provider.unwrap(tampered(wrapped, 3), context)),
        await failure(provider.wrap(Buffer.alloc(5), context)),
      ];
      const printed = [
        inspect(provider, { depth: 5 }), JSON.stringify(provider),
        ...errors.map((err) => `${inspect(err, { depth: 5 })} ${JSON.stringify(err)}`),
      ].join('\n');
      for (const secret of fixture?.secrets ?? []) expect(printed).not.toContain(secret);
    });
  });
}
