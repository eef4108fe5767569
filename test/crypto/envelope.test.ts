// The envelope and a tenant's cipher in memory: format, tamper and move detection, subkey
// batches, blind index, key wrapping, the key cache and the local root key's rules.
import { createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import {
  deriveSubkey, envelopeOverhead, envelopeVersion, headerLength, readHeader,
} from '../../src/crypto/envelope.ts';
import { KeyCache } from '../../src/crypto/key-cache.ts';
import { unwrapTenantKey, wrapTenantKey } from '../../src/crypto/key-wrap.ts';
import {
  LocalKeyProvider, type LocalKeyProviderConfig,
} from '../../src/crypto/providers/local/local-provider.ts';
import { parseRootKey } from '../../src/crypto/root-key-text.ts';
import { TenantCipher, type TenantCipherOptions } from '../../src/crypto/tenant-cipher.ts';
import { frame } from '../../src/crypto/framing.ts';
import { expectCode } from '../core/harness.ts';
import { keysConfig } from '../support/keys-config.ts';

const localConfig = (extra: { env?: string } = {}): LocalKeyProviderConfig =>
  keysConfig({ provider: 'local', ...extra }) as LocalKeyProviderConfig;

function cipherOf(tenantId: string, options: TenantCipherOptions & {
  keyringId?: Buffer; versions?: number[]; active?: number;
} = {}): TenantCipher {
  const versions = options.versions ?? [1];
  return new TenantCipher({
    tenantId,
    keyringId: options.keyringId ?? randomBytes(16),
    activeVersion: options.active ?? Math.max(...versions),
    dataKeys: new Map(versions.map((v) => [v, randomBytes(32)])),
    indexKey: randomBytes(32),
  }, options);
}

/** The same keys under another cipher object, as a second process would load them. */
function twin(source: TenantCipher, keys: { keyringId: Buffer; data: Map<number, Buffer>;
  index: Buffer; tenantId?: string }, options: TenantCipherOptions = {}): TenantCipher {
  return new TenantCipher({
    tenantId: keys.tenantId ?? source.tenantId, keyringId: keys.keyringId,
    activeVersion: Math.max(...keys.data.keys()), dataKeys: keys.data, indexKey: keys.index,
  }, options);
}

function keySet(versions = [1]) {
  return {
    keyringId: randomBytes(16),
    data: new Map(versions.map((v) => [v, randomBytes(32)])),
    index: randomBytes(32),
  };
}

describe('the envelope', () => {
  it('round-trips text and bytes and writes the documented header', () => {
    const keys = keySet([1, 2]);
    const cipher = twin(cipherOf('acme'), { ...keys, tenantId: 'acme' });
    const sealed = cipher.seal('documents', 'text', 'd-1', 'the quarterly numbers');
    expect(sealed.length).toBe(Buffer.byteLength('the quarterly numbers') + envelopeOverhead);
    expect([...sealed.subarray(0, 3)]).toEqual([0xe7, 1, 1]);
    expect(sealed.subarray(3, 19).equals(keys.keyringId)).toBe(true);
    expect(sealed.readUInt32BE(19)).toBe(2);
    expect(envelopeVersion(sealed)).toBe(2);
    expect(sealed.includes(Buffer.from('quarterly'))).toBe(false);
    expect(cipher.open('documents', 'text', 'd-1', sealed).toString()).toBe(
      'the quarterly numbers');
    const bytes = randomBytes(70_000);
    expect(cipher.open('t', 'c', '7', cipher.seal('t', 'c', '7', bytes)).equals(bytes))
      .toBe(true);
    expect(cipher.open('t', 'c', '8', cipher.seal('t', 'c', '8', '')).length).toBe(0);
  });

  it('is AES-256-GCM under HKDF-SHA256(data key, salt) with header and place as AAD', () => {
    const keys = keySet([1]);
    const cipher = twin(cipherOf('acme'), { ...keys, tenantId: 'acme' });
    const sealed = cipher.seal('notes', 'body', '42', 'hello');
    const header = readHeader(sealed);
    const info = Buffer.concat([Buffer.from('tenancy/envelope/v1'), keys.keyringId,
      Buffer.from([0, 0, 0, 1])]);
    const subkey = Buffer.from(hkdfSync('sha256', keys.data.get(1) as Buffer, header.salt, info,
      32));
    expect(deriveSubkey(keys.data.get(1) as Buffer, keys.keyringId, 1, header.salt)
      .equals(subkey)).toBe(true);
    // Decrypting by hand with only node:crypto and the documented layout gives the plaintext.
    const decipher = createDecipheriv('aes-256-gcm', subkey, sealed.subarray(39, 51));
    decipher.setAAD(Buffer.concat([sealed.subarray(0, headerLength),
      frame('acme', 'notes', 'body', '42')]));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    const plain = Buffer.concat([decipher.update(sealed.subarray(headerLength,
      sealed.length - 16)), decipher.final()]);
    expect(plain.toString()).toBe('hello');
  });

  it('fails any altered byte with DECRYPT_FAILED, never garbage', async () => {
    const cipher = cipherOf('acme');
    const sealed = cipher.seal('messages', 'content', 'm-1', 'pay 100 to Alice');
    // magic, format, algorithm, key id, version, salt, nonce, ciphertext, tag.
    for (const at of [0, 1, 2, 3, 18, 19, 22, 23, 38, 39, 50, 51, sealed.length - 17,
      sealed.length - 1]) {
      const altered = Buffer.from(sealed);
      altered[at] = (altered[at] as number) ^ 0x01;
      await expectCode(() => cipher.open('messages', 'content', 'm-1', altered),
        'DECRYPT_FAILED');
    }
    await expectCode(() => cipher.open('messages', 'content', 'm-1', sealed.subarray(0, 60)),
      'DECRYPT_FAILED');
    await expectCode(() => cipher.open('messages', 'content', 'm-1',
      Buffer.from('pay 100 to Alice, plain text that is long enough to pass')), 'DECRYPT_FAILED');
  });

  it('refuses a value moved to another row, column, table or tenant', async () => {
    const keys = keySet([1]);
    const acme = twin(cipherOf('acme'), { ...keys, tenantId: 'acme' });
    const sealed = acme.seal('documents', 'title', 'd-1', 'Board minutes');
    const moves: [string, string, string][] = [
      ['documents', 'title', 'd-2'],
      ['documents', 'text', 'd-1'],
      ['conversations', 'title', 'd-1'],
    ];
    for (const [table, column, row] of moves) {
      const err = await expectCode(() => acme.open(table, column, row, sealed), 'DECRYPT_FAILED');
      expect(err.message).toBe('an encrypted value failed its integrity check: the value does ' +
        'not belong to this tenant, table, column and row, or it was altered');
      expect(err.message).not.toContain('Board');
    }
    // Another tenant: other keys, and even the same keys under another tenant id fail.
    const other = cipherOf('globex');
    expect((await expectCode(() => other.open('documents', 'title', 'd-1', sealed),
      'DECRYPT_FAILED')).tenantId).toBe('globex');
    const sameKeys = twin(acme, { ...keys, tenantId: 'globex' });
    await expectCode(() => sameKeys.open('documents', 'title', 'd-1', sealed), 'DECRYPT_FAILED');
    // Framing keeps ('ab', 'c') and ('a', 'bc') apart.
    const framed = acme.seal('ab', 'c', '1', 'x');
    await expectCode(() => acme.open('a', 'bc', '1', framed), 'DECRYPT_FAILED');
    expect(acme.open('documents', 'title', 'd-1', sealed).toString()).toBe('Board minutes');
  });

  it('seals each batch of writes under a subkey of a fresh random salt', () => {
    const cipher = cipherOf('acme', { maxUsesPerSubkey: 3 });
    const salts = Array.from({ length: 7 }, (_, i) =>
      readHeader(cipher.seal('t', 'c', String(i), 'v')).salt.toString('hex'));
    expect(cipher.batches).toBe(3);
    expect(new Set(salts.slice(0, 3)).size).toBe(1);
    expect(new Set(salts.slice(3, 6)).size).toBe(1);
    expect(new Set(salts).size).toBe(3);
    // Another process (another cipher object) never shares a salt with this one.
    const keys = keySet();
    const a = twin(cipherOf('acme'), keys);
    const b = twin(cipherOf('acme'), keys);
    const sa = readHeader(a.seal('t', 'c', '1', 'v')).salt;
    const sb = readHeader(b.seal('t', 'c', '1', 'v')).salt;
    expect(sa.equals(sb)).toBe(false);
    // Each opens what the other sealed: the salt travels in the header.
    expect(a.open('t', 'c', '1', b.seal('t', 'c', '1', 'from b')).toString()).toBe('from b');
  });

  it('opens older versions, reports a newer one and refuses a retired one', async () => {
    const keys = keySet([1, 2]);
    const v2 = twin(cipherOf('acme'), keys);
    const v1Only = twin(cipherOf('acme'), { ...keys, data: new Map([[1, keys.data.get(1) as
      Buffer]]) });
    let stale = 0;
    const v1Reader = twin(cipherOf('acme'), { ...keys, data: new Map([[1, keys.data.get(1) as
      Buffer]]) }, { onNewerVersion: () => { stale += 1; } });
    const old = v1Only.seal('t', 'c', '1', 'old');
    expect(v2.open('t', 'c', '1', old).toString()).toBe('old');
    const fresh = v2.seal('t', 'c', '2', 'new');
    const err = await expectCode(() => v1Reader.open('t', 'c', '2', fresh), 'DECRYPT_FAILED');
    expect(err.message).toContain('key version 2 is newer than the keys loaded');
    expect(stale).toBe(1);
    const retired = twin(cipherOf('acme'), { ...keys, data: new Map([[2, keys.data.get(2) as
      Buffer]]) }, { onNewerVersion: () => { stale += 1; } });
    expect((await expectCode(() => retired.open('t', 'c', '1', old), 'DECRYPT_FAILED')).message)
      .toContain('key version 1 is retired or unknown');
    expect(stale).toBe(1);
  });

  it('zeroes its keys on destroy and refuses every later use', async () => {
    const keys = keySet([1]);
    const cipher = twin(cipherOf('acme'), keys);
    const sealed = cipher.seal('t', 'c', '1', 'v');
    cipher.destroy();
    expect(cipher.destroyed).toBe(true);
    expect(keys.data.get(1)?.every((b) => b === 0)).toBe(true);
    expect(keys.index.every((b) => b === 0)).toBe(true);
    await expectCode(() => cipher.open('t', 'c', '1', sealed), 'KEYS_DESTROYED');
    await expectCode(() => cipher.seal('t', 'c', '1', 'v'), 'KEYS_DESTROYED');
    await expectCode(() => cipher.blindIndex('t', 'c', 'v'), 'KEYS_DESTROYED');
  });

  it('never prints its keys', () => {
    const keys = keySet([1]);
    const cipher = twin(cipherOf('acme'), keys);
    const shown = `${JSON.stringify({ cipher })} ${inspect(cipher, { depth: 5 })} ${String(
      inspect({ nested: { cipher } }, { depth: 9 }))}`;
    for (const key of [keys.data.get(1) as Buffer, keys.index]) {
      expect(shown).not.toContain(key.toString('hex'));
      expect(shown).not.toContain(key.toString('base64'));
    }
    expect(shown).toContain('[keys of acme]');
  });
});

describe('the blind index', () => {
  it('matches equal values of one tenant and differs between tenants and columns', () => {
    const acme = cipherOf('acme');
    const globex = cipherOf('globex');
    const a1 = acme.blindIndex('documents', 'external_ref', 'CRM-1042');
    expect(a1).toHaveLength(32);
    expect(acme.blindIndex('documents', 'external_ref', 'CRM-1042').equals(a1)).toBe(true);
    expect(acme.blindIndex('documents', 'external_ref', 'CRM-1043').equals(a1)).toBe(false);
    expect(acme.blindIndex('documents', 'title', 'CRM-1042').equals(a1)).toBe(false);
    expect(globex.blindIndex('documents', 'external_ref', 'CRM-1042').equals(a1)).toBe(false);
  });
});

describe('tenant key wrapping', () => {
  it('unwraps only under the binding it was wrapped with', async () => {
    const master = randomBytes(32);
    const key = randomBytes(32);
    const binding = { tenantId: 'acme', keyringId: randomBytes(16), purpose: 'data' as const,
      version: 1 };
    const blob = wrapTenantKey(master, key, binding);
    expect(blob).toHaveLength(61);
    expect(blob.includes(key)).toBe(false);
    expect(unwrapTenantKey(master, blob, binding).equals(key)).toBe(true);
    for (const other of [{ ...binding, tenantId: 'globex' }, { ...binding, version: 2 },
      { ...binding, purpose: 'index' as const }, { ...binding, keyringId: randomBytes(16) }]) {
      await expectCode(() => unwrapTenantKey(master, blob, other), 'KEY_UNWRAP_FAILED');
    }
    await expectCode(() => unwrapTenantKey(randomBytes(32), blob, binding), 'KEY_UNWRAP_FAILED');
  });
});

class Keys {
  destroyed = false;
  constructor(readonly n: number) {}
  destroy(): void {
    this.destroyed = true;
  }
}

describe('the key cache', () => {
  it('makes one load for concurrent misses of one tenant', async () => {
    const cache = new KeyCache<Keys>({ maxEntries: 10, maxAgeMillis: 60_000 });
    let loads = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((done) => { release = done; });
    const load = async (): Promise<Keys> => {
      loads += 1;
      await gate;
      return new Keys(loads);
    };
    const waiting = Array.from({ length: 50 }, () => cache.get('acme', load));
    release();
    const got = await Promise.all(waiting);
    expect(loads).toBe(1);
    expect(new Set(got).size).toBe(1);
    await cache.get('acme', load);
    expect(loads).toBe(1);
  });

  it('loads again after a failed load instead of caching the failure', async () => {
    const cache = new KeyCache<Keys>({ maxEntries: 10, maxAgeMillis: 60_000 });
    let loads = 0;
    const failing = Promise.all([1, 2, 3].map(() => cache.get('acme', async () => {
      loads += 1;
      throw new Error('provider down');
    })));
    await expect(failing).rejects.toThrow('provider down');
    expect(loads).toBe(1);
    expect((await cache.get('acme', async () => new Keys(2))).n).toBe(2);
  });

  it('is bounded by age and by count, least recently used first', async () => {
    let now = 0;
    const cache = new KeyCache<Keys>({ maxEntries: 2, maxAgeMillis: 1000 }, () => now);
    let loads = 0;
    const load = async () => new Keys(++loads);
    await cache.get('a', load);
    await cache.get('b', load);
    await cache.get('a', load); // a is now the most recent
    await cache.get('c', load); // evicts b
    expect(cache.size).toBe(2);
    expect(loads).toBe(3);
    await cache.get('a', load);
    expect(loads).toBe(3);
    await cache.get('b', load);
    expect(loads).toBe(4);
    now = 999;
    await cache.get('b', load);
    expect(loads).toBe(4);
    now = 1000; // b was loaded at 0: too old now
    await cache.get('b', load);
    expect(loads).toBe(5);
  });

  it('forgets a tenant at once, and wipes its keys when asked', async () => {
    const cache = new KeyCache<Keys>({ maxEntries: 10, maxAgeMillis: 60_000 });
    const kept = await cache.get('acme', async () => new Keys(1));
    await cache.forget('acme');
    expect(cache.size).toBe(0);
    expect(kept.destroyed).toBe(false);
    const wiped = await cache.get('acme', async () => new Keys(2));
    expect(wiped).not.toBe(kept);
    await cache.forget('acme', true);
    expect(wiped.destroyed).toBe(true);
  });
});

describe('the local root key', () => {
  const dirs: string[] = [];
  const dir = async (): Promise<string> => {
    const made = await mkdtemp(join(tmpdir(), 'tenancy-root-'));
    dirs.push(made);
    return made;
  };
  afterAll(async () => {
    for (const made of dirs) await rm(made, { recursive: true, force: true });
  });

  it('refuses short, long and malformed keys, naming the source and never the value', async () => {
    for (const text of ['', 'c2hvcnQ=', randomBytes(16).toString('base64'),
      randomBytes(33).toString('base64'), `${randomBytes(32).toString('hex')}`,
      `${randomBytes(32).toString('base64').slice(0, -1)}!`]) {
      const err = await expectCode(() => parseRootKey(text, 'env var K'), 'ROOT_KEY_INVALID');
      expect(err.message).toBe('root key is unusable: env var K must hold base64 of exactly ' +
        '32 bytes');
    }
    const good = randomBytes(32);
    expect(parseRootKey(` ${good.toString('base64')}\n`, 'x').equals(good)).toBe(true);
  });

  it('creates its key file with mode 0600 on first run and refuses one others can read',
    async () => {
      const dataDir = await dir();
      const provider = await LocalKeyProvider.open(localConfig(),
        { dataDir, region: 'eu' });
      await provider.close();
      const file = join(dataDir, 'keys', 'eu.root');
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect((await readFile(file, 'utf8')).trim()).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      await chmod(file, 0o644);
      await expectCode(LocalKeyProvider.open(localConfig(),
        { dataDir, region: 'eu' }), 'ROOT_KEY_INVALID');
      await writeFile(file, 'c2hvcnQ=\n', { mode: 0o600 });
      await chmod(file, 0o600);
      await expectCode(LocalKeyProvider.open(localConfig(),
        { dataDir, region: 'eu' }), 'ROOT_KEY_INVALID');
    });

  it('takes the key from an env var, and refuses a missing or short one', async () => {
    const dataDir = await dir();
    const config = localConfig({ env: 'TENANCY_TEST_ROOT' });
    const where = { dataDir, region: 'eu' };
    await expectCode(LocalKeyProvider.open(config, where, {}), 'ROOT_KEY_INVALID');
    await expectCode(LocalKeyProvider.open(config, where,
      { TENANCY_TEST_ROOT: randomBytes(24).toString('base64') }), 'ROOT_KEY_INVALID');
    const root = randomBytes(32).toString('base64');
    const provider = await LocalKeyProvider.open(config, where, { TENANCY_TEST_ROOT: root });
    const context = { tenantId: 'acme', region: 'eu' };
    const key = randomBytes(32);
    const wrapped = await provider.wrap(key, context);
    expect((await provider.unwrap(wrapped, context)).equals(key)).toBe(true);
    expect(JSON.stringify({ provider, wrapped: wrapped.rootKeyId })).not.toContain(root);
    expect(inspect(provider, { depth: 9 })).not.toContain(root);
    await provider.close();
  });
});
