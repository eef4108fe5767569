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
  readonly value: Promise<V>;
  readonly loadedAt: number;
}

export class KeyCache<V extends Wipeable> {
  // Map order is recency order: the first entry is the least recently used.
  readonly #entries = new Map<string, Entry<V>>();

  constructor(
    private readonly options: KeyCacheOptions,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  /** The cached value of `id`, or the one `load` makes; callers that miss together share it. */
  get(id: string, load: () => Promise<V>): Promise<V> {
    const now = this.now();
    const hit = this.#entries.get(id);
    if (hit !== undefined && now - hit.loadedAt < this.options.maxAgeMillis) {
      this.#entries.delete(id);
      this.#entries.set(id, hit);
      return hit.value;
    }
    // An expired entry is only dropped: a session may still be using its keys.
    if (hit !== undefined) this.#entries.delete(id);
    while (this.#entries.size >= this.options.maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    const entry: Entry<V> = { value: load(), loadedAt: now };
    this.#entries.set(id, entry);
    entry.value.catch(() => {
      if (this.#entries.get(id) === entry) this.#entries.delete(id);
    });
    return entry.value;
  }

  /** Drops a tenant's keys at once (suspend, delete); `wipe` also zeroes them (shred). */
  async forget(id: string, wipe = false): Promise<void> {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#entries.delete(id);
    if (wipe) {
      const value = await entry.value.catch(() => undefined);
      value?.destroy();
    }
  }

  clear(): void {
    this.#entries.clear();
  }
}
