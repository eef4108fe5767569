// Each tenant's keys: made at creation, unwrapped into a bounded cache, rotated, retired, shredded.
import { randomBytes } from 'node:crypto';
import { TenancyError } from '../errors.ts';
import { KeyCache, type KeyCacheOptions } from '../crypto/key-cache.ts';
import type { KeyProvider, WrapContext } from '../crypto/key-provider.ts';
import { unwrapTenantKey, wrapTenantKey, type KeyPurpose } from '../crypto/key-wrap.ts';
import { TenantCipher } from '../crypto/tenant-cipher.ts';
import type { Tenant } from './catalog.ts';
import type {
  DestroyedRecord, KeyringRow, KeyringStore, KeyringTx, TenantKeyRow,
} from './keyring-store.ts';

/** One region's key provider and keyring tables. */
export interface RegionKeys {
  readonly region: string;
  readonly provider: KeyProvider;
  readonly store: KeyringStore;
}

export interface KeyVersionStatus {
  version: number;
  keyId: string;
  state: 'active' | 'previous' | 'retired';
  createdAt: Date;
  retiredAt: Date | null;
}

export interface KeyringStatus {
  tenantId: string;
  region: string;
  provider: string;
  rootKeyId: string;
  masterKeyId: string;
  activeVersion: number;
  dataKeys: KeyVersionStatus[];
  indexKeys: KeyVersionStatus[];
  createdAt: Date;
  rewrappedAt: Date | null;
}

/** What a shred leaves behind: which tenant, when, and the ids of the keys destroyed. */
export interface DeletionRecord {
  tenantId: string;
  region: string;
  shredded: true;
  deletedAt: Date;
  /** `mk-…` (master), `dk-…-vN` (data), `ik-…-vN` (index): ids only, never key bytes. */
  keyIds: string[];
}

export interface RootRotation {
  region: string;
  rootKeyId: string;
  /** Master keys rewrapped under the new root; data was not touched. */
  rewrapped: number;
}

/** Names of the keys of a keyring, as status and deletion records show them. */
export function keyIdsOf(keyringId: Buffer, keys: readonly Pick<TenantKeyRow, 'purpose' |
  'version'>[]): { master: string; of(row: Pick<TenantKeyRow, 'purpose' | 'version'>): string;
  all: string[] } {
  const hex = keyringId.toString('hex');
  const of = (row: Pick<TenantKeyRow, 'purpose' | 'version'>): string =>
    `${row.purpose === 'data' ? 'dk' : 'ik'}-${hex}-v${row.version}`;
  return { master: `mk-${hex}`, of, all: [`mk-${hex}`, ...keys.map(of)] };
}

export class TenantKeys {
  readonly #regions: ReadonlyMap<string, RegionKeys>;
  readonly #cache: KeyCache<TenantCipher>;
  readonly #maxAgeMillis: number;
  // Every cipher handed out and still reachable, by tenant: the cache may have dropped one
  // (age, count, a status change) while a session still holds it, and a shred wipes those too.
  readonly #live = new Map<string, Set<WeakRef<TenantCipher>>>();
  readonly #collected = new FinalizationRegistry<{ tenantId: string;
    ref: WeakRef<TenantCipher> }>(({ tenantId, ref }) => {
      const refs = this.#live.get(tenantId);
      refs?.delete(ref);
      if (refs?.size === 0) this.#live.delete(tenantId);
    });

  constructor(regions: ReadonlyMap<string, RegionKeys>, cache: KeyCacheOptions) {
    this.#regions = regions;
    this.#cache = new KeyCache(cache);
    this.#maxAgeMillis = cache.maxAgeMillis;
  }

  region(name: string): RegionKeys {
    const region = this.#regions.get(name);
    if (region === undefined) {
      throw new TenancyError('REGION_UNKNOWN', { params: { detail: name } });
    }
    return region;
  }

  get regions(): RegionKeys[] {
    return [...this.#regions.values()];
  }

  /**
   * The tenant's cipher, unwrapped once and then served from the cache. The entry is bound to
   * the region and the catalog version (`updatedAt`) of `tenant`: once a move elsewhere (by any
   * process) shows in the caller's catalog row, the keyring of the tenant's current region is
   * loaded, never the one the move destroyed.
   */
  cipher(tenant: Tenant): Promise<TenantCipher> {
    return this.#cache.get(tenant.id, () => this.#load(tenant),
      `${tenant.region}\u0000${tenant.updatedAt.getTime()}`);
  }

  /** Drops the tenant's unwrapped keys from the cache (suspend, delete, rotation). */
  forget(tenantId: string): Promise<void> {
    return this.#cache.forget(tenantId);
  }

  /** Makes the tenant's keyring (master key, data key v1, index key v1) unless it has one. */
  async ensure(tenant: Tenant): Promise<void> {
    const { provider, store } = this.region(tenant.region);
    const context = this.#context(tenant);
    const keyringId = randomBytes(16);
    const master = randomBytes(32);
    const data = randomBytes(32);
    const index = randomBytes(32);
    try {
      const wrapped = await provider.wrap(master, context);
      const bind = (purpose: KeyPurpose) => ({ tenantId: tenant.id, keyringId, purpose,
        version: 1 });
      await store.transaction(async (tx) => {
        if (await tx.destroyed(tenant.id) !== undefined) {
          throw new TenancyError('KEYS_DESTROYED', { tenantId: tenant.id });
        }
        const made = await tx.insertKeyring({
          tenantId: tenant.id, keyringId, provider: wrapped.provider,
          rootKeyId: wrapped.rootKeyId, wrappedMaster: wrapped.blob,
        });
        if (!made) return;
        await tx.insertKey(tenant.id, 'data', 1, wrapTenantKey(master, data, bind('data')));
        await tx.insertKey(tenant.id, 'index', 1, wrapTenantKey(master, index, bind('index')));
      });
    } finally {
      for (const key of [master, data, index]) key.fill(0);
    }
  }

  /** Removes a keyring that never protected data: a create that failed half way. */
  async discard(tenant: Tenant): Promise<void> {
    await this.region(tenant.region).store.transaction((tx) => tx.discard(tenant.id));
    await this.#cache.forget(tenant.id, true);
  }

  /** Adds a data key version and makes it the one new writes use; old versions still open. */
  async rotate(tenant: Tenant): Promise<KeyringStatus> {
    const { provider, store } = this.region(tenant.region);
    const status = await store.transaction(async (tx) => {
      const row = await this.#keyringOrFail(tx, tenant, true);
      const keys = await tx.keys(tenant.id);
      const version = Math.max(0, ...keys.filter((k) => k.purpose === 'data')
        .map((k) => k.version)) + 1;
      const master = await provider.unwrap(this.#wrapped(row), this.#context(tenant));
      const key = randomBytes(32);
      try {
        await tx.demoteActive(tenant.id, 'data');
        await tx.insertKey(tenant.id, 'data', version, wrapTenantKey(master, key, {
          tenantId: tenant.id, keyringId: row.keyringId, purpose: 'data', version,
        }));
      } finally {
        master.fill(0);
        key.fill(0);
      }
      return this.#status(tenant, row, await tx.keys(tenant.id));
    });
    await this.#cache.forget(tenant.id);
    return status;
  }

  /**
   * Retires a data key version: its wrapped key is dropped and it never decrypts again.
   * `rowsUsing` counts values still sealed under it; any at all and the retire is refused.
   */
  async retire(tenant: Tenant, version: number, rowsUsing: () => Promise<number>):
    Promise<KeyringStatus> {
    const { store } = this.region(tenant.region);
    const { keys, now } = await store.transaction(async (tx) => {
      await this.#keyringOrFail(tx, tenant, false);
      return { keys: await tx.keys(tenant.id), now: await tx.now() };
    });
    const key = keys.find((k) => k.purpose === 'data' && k.version === version);
    if (key === undefined) {
      throw new TenancyError('KEY_VERSION_UNKNOWN', {
        tenantId: tenant.id, params: { detail: String(version) },
      });
    }
    if (key.state === 'active') {
      throw new TenancyError('KEY_VERSION_IN_USE', {
        tenantId: tenant.id, params: { detail: `${version} is the active version` },
      });
    }
    if (key.state === 'previous') {
      // Another process may have loaded the keys before the next version existed and seal
      // under this one until its cache entry expires; values it writes then would be lost.
      const successor = keys.filter((k) => k.purpose === 'data' && k.version > version)
        .sort((a, b) => a.version - b.version)[0];
      const safeAt = (successor?.createdAt.getTime() ?? 0) + this.#maxAgeMillis;
      if (now.getTime() < safeAt) {
        throw new TenancyError('KEY_VERSION_IN_USE', {
          tenantId: tenant.id,
          params: { detail: `${version} may still be sealed under by other processes until ` +
            `${new Date(safeAt).toISOString()}; retry then` },
        });
      }
      const rows = await rowsUsing();
      if (rows > 0) {
        throw new TenancyError('KEY_VERSION_IN_USE', {
          tenantId: tenant.id,
          params: { detail: `${version} still encrypts ${rows} values; run keys reencrypt first` },
        });
      }
    }
    const status = await store.transaction(async (tx) => {
      const row = await this.#keyringOrFail(tx, tenant, true);
      await tx.retire(tenant.id, version);
      return this.#status(tenant, row, await tx.keys(tenant.id));
    });
    await this.#cache.forget(tenant.id);
    return status;
  }

  async status(tenant: Tenant): Promise<KeyringStatus> {
    return this.region(tenant.region).store.transaction(async (tx) => {
      const row = await this.#keyringOrFail(tx, tenant, false);
      return this.#status(tenant, row, await tx.keys(tenant.id));
    });
  }

  /**
   * Makes a new root key current in each region (or only `region`) and rewraps every master key
   * under it. Data and data keys are not touched. Run again after a failure: it rewraps what is
   * still under an older root.
   */
  async rotateRoot(region?: string): Promise<RootRotation[]> {
    const targets = region === undefined ? this.regions : [this.region(region)];
    const done: RootRotation[] = [];
    for (const { region: name, provider, store } of targets) {
      const rootKeyId = await provider.rotateRoot();
      let rewrapped = 0;
      let after = '';
      for (;;) {
        const page = await store.transaction((tx) => tx.wrappedUnderOther(rootKeyId, after, 100));
        for (const row of page) {
          const context = { tenantId: row.tenantId, region: name };
          const master = await provider.unwrap(this.#wrapped(row), context);
          try {
            const wrapped = await provider.wrap(master, context);
            const changed = await store.transaction((tx) => tx.rewrap(row.tenantId,
              row.rootKeyId, wrapped.provider, wrapped.rootKeyId, wrapped.blob));
            if (changed) rewrapped += 1;
          } finally {
            master.fill(0);
          }
        }
        if (page.length < 100) break;
        after = (page.at(-1) as KeyringRow).tenantId;
      }
      done.push({ region: name, rootKeyId, rewrapped });
    }
    return done;
  }

  /**
   * Crypto-shredding: overwrites and deletes every wrapped key of the tenant, records which
   * ones, and wipes its unwrapped keys from memory. Data sealed under them is unreadable from
   * here on, wherever a copy of it lies. Returns the existing record when already shredded.
   */
  async destroy(tenant: Tenant): Promise<DestroyedRecord> {
    const { store } = this.region(tenant.region);
    const record = await store.transaction(async (tx) => {
      const row = await tx.keyring(tenant.id, true);
      if (row === undefined) {
        const earlier = await tx.destroyed(tenant.id);
        if (earlier !== undefined) return earlier;
        return tx.destroy(tenant.id, Buffer.alloc(16), []);
      }
      const ids = keyIdsOf(row.keyringId, await tx.keys(tenant.id));
      return tx.destroy(tenant.id, row.keyringId, ids.all);
    });
    await this.#cache.forget(tenant.id, true);
    for (const ref of this.#live.get(tenant.id) ?? []) ref.deref()?.destroy();
    this.#live.delete(tenant.id);
    // Dead row versions of the overwritten keys go at once rather than at autovacuum's pace.
    await store.vacuum().catch(() => {});
    return record;
  }

  async close(): Promise<void> {
    this.#cache.clear();
    await Promise.allSettled(this.regions.map((r) => r.provider.close()));
  }

  async #load(tenant: Tenant): Promise<TenantCipher> {
    const { provider, store } = this.region(tenant.region);
    const read = () => store.transaction(async (tx) => {
      const row = await this.#keyringOf(tx, tenant, false);
      return row === undefined ? undefined : { row, keys: await tx.keys(tenant.id) };
    });
    let found = await read();
    if (found === undefined) {
      // A tenant made before it had keys gets them now; nothing of it was sealed yet.
      await this.ensure(tenant);
      found = await read();
      if (found === undefined) throw new TenancyError('INTERNAL', { tenantId: tenant.id });
    }
    const { row, keys } = found;
    const master = await provider.unwrap(this.#wrapped(row), this.#context(tenant));
    try {
      const dataKeys = new Map<number, Buffer>();
      let activeVersion = 0;
      let indexKey: Buffer | undefined;
      for (const key of keys) {
        if (key.wrapped === null) continue;
        const plain = unwrapTenantKey(master, key.wrapped, {
          tenantId: tenant.id, keyringId: row.keyringId, purpose: key.purpose,
          version: key.version,
        });
        if (key.purpose === 'index') {
          if (key.state === 'active') indexKey = plain;
          continue;
        }
        dataKeys.set(key.version, plain);
        if (key.state === 'active') activeVersion = key.version;
      }
      if (indexKey === undefined || activeVersion === 0) {
        throw new TenancyError('KEY_UNWRAP_FAILED', { tenantId: tenant.id });
      }
      const cipher = new TenantCipher({
        tenantId: tenant.id, keyringId: row.keyringId, activeVersion, dataKeys, indexKey,
      }, { onNewerVersion: () => void this.#cache.forget(tenant.id) });
      this.#track(cipher);
      return cipher;
    } finally {
      master.fill(0);
    }
  }

  #track(cipher: TenantCipher): void {
    const ref = new WeakRef(cipher);
    let refs = this.#live.get(cipher.tenantId);
    if (refs === undefined) this.#live.set(cipher.tenantId, refs = new Set());
    refs.add(ref);
    this.#collected.register(cipher, { tenantId: cipher.tenantId, ref });
  }

  /** The tenant's keyring row; KEYS_DESTROYED after a shred, undefined if it never had one. */
  async #keyringOf(tx: KeyringTx, tenant: Tenant, lock: boolean):
    Promise<KeyringRow | undefined> {
    const row = await tx.keyring(tenant.id, lock);
    if (row !== undefined) return row;
    if (await tx.destroyed(tenant.id) !== undefined) {
      throw new TenancyError('KEYS_DESTROYED', { tenantId: tenant.id });
    }
    return undefined;
  }

  async #keyringOrFail(tx: KeyringTx, tenant: Tenant, lock: boolean): Promise<KeyringRow> {
    const row = await this.#keyringOf(tx, tenant, lock);
    if (row !== undefined) return row;
    throw new TenancyError('KEY_VERSION_UNKNOWN', {
      tenantId: tenant.id, params: { detail: 'any (the tenant has no keyring)' },
    });
  }

  #context(tenant: Tenant): WrapContext {
    return { tenantId: tenant.id, region: tenant.region };
  }

  #wrapped(row: KeyringRow) {
    return { provider: row.provider, rootKeyId: row.rootKeyId, blob: row.wrappedMaster };
  }

  #status(tenant: Tenant, row: KeyringRow, keys: readonly TenantKeyRow[]): KeyringStatus {
    const ids = keyIdsOf(row.keyringId, keys);
    const describe = (key: TenantKeyRow): KeyVersionStatus => ({
      version: key.version, keyId: ids.of(key), state: key.state, createdAt: key.createdAt,
      retiredAt: key.retiredAt,
    });
    const data = keys.filter((k) => k.purpose === 'data');
    return {
      tenantId: tenant.id,
      region: tenant.region,
      provider: row.provider,
      rootKeyId: row.rootKeyId,
      masterKeyId: ids.master,
      activeVersion: data.find((k) => k.state === 'active')?.version ?? 0,
      dataKeys: data.map(describe),
      indexKeys: keys.filter((k) => k.purpose === 'index').map(describe),
      createdAt: row.createdAt,
      rewrappedAt: row.rewrappedAt,
    };
  }
}
