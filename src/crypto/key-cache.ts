// A cache of unwrapped tenant keys, bounded by age and count; concurrent misses share one load.

/** What the cache holds: something whose key material can be wiped. */
export interface Wipeable {
  destroy(): void;
}

export interface KeyCacheOptions {
  /** Tenants whose keys stay unwrapped at once; the least recently used go first. */
  maxEntries: number;
  /** After this long an entry is loaded (unwrapped) again, so a rotation elsewhere is seen. */
  maxAgeMillis: number;
}

interface Entry<V> {
  /** The tenant the entry belongs to; `forget` drops every entry of it. */
  readonly id: string;
  readonly value: Promise<V>;
  readonly loadedAt: number;
}

export class KeyCache<V extends Wipeable> {
  // Map order is recency order: the first entry is the least recently used. Keyed by tenant and
  // the source of the keys (see `get`).
  readonly #entries = new Map<string, Entry<V>>();

  constructor(
    private readonly options: KeyCacheOptions,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  /**
   * The cached value of `id` from `source`, or the one `load` makes; callers that miss together
   * share it. `source` names where the keys come from (a tenant's region and catalog version):
   * an entry loaded from one source is never served for another, so keys a move destroyed are
   * not used again once the caller knows the tenant's new place.
   */
  get(id: string, load: () => Promise<V>, source = ''): Promise<V> {
    const now = this.now();
    const key = `${id}\u0000${source}`;
    const hit = this.#entries.get(key);
    if (hit !== undefined && now - hit.loadedAt < this.options.maxAgeMillis) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit.value;
    }
    // An expired entry is only dropped: a session may still be using its keys.
    if (hit !== undefined) this.#entries.delete(key);
    while (this.#entries.size >= this.options.maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    const entry: Entry<V> = { id, value: load(), loadedAt: now };
    this.#entries.set(key, entry);
    entry.value.catch(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    });
    return entry.value;
  }

  /** Drops a tenant's keys at once (suspend, delete); `wipe` also zeroes them (shred). */
  async forget(id: string, wipe = false): Promise<void> {
    const dropped: Entry<V>[] = [];
    for (const [key, entry] of this.#entries) {
      if (entry.id !== id) continue;
      this.#entries.delete(key);
      dropped.push(entry);
    }
    if (!wipe) return;
    for (const entry of dropped) {
      const value = await entry.value.catch(() => undefined);
      value?.destroy();
    }
  }

  clear(): void {
    this.#entries.clear();
  }
}
