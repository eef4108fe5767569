// A short-lived cache of catalog rows, so a busy tenant does not cost a catalog read per request.
import type { TenantId } from '../tenant-id.ts';
import type { Tenant } from './catalog.ts';

interface Entry {
  value: Promise<Tenant | undefined>;
  expires: number;
}

/**
 * Entries live `ttlMillis` (one second by default): a suspend in this process is seen at once
 * (it calls `forget`), one made by another process within the TTL.
 */
export class TenantCache {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly load: (id: TenantId) => Promise<Tenant | undefined>,
    private readonly ttlMillis = 1000,
    private readonly maxEntries = 10_000,
  ) {}

  get(id: TenantId): Promise<Tenant | undefined> {
    const now = Date.now();
    const hit = this.#entries.get(id);
    if (hit !== undefined && hit.expires > now) return hit.value;
    if (this.#entries.size >= this.maxEntries) this.#entries.clear();
    // Concurrent misses share one catalog read.
    const value = this.load(id);
    const entry = { value, expires: now + this.ttlMillis };
    this.#entries.set(id, entry);
    value.catch(() => {
      if (this.#entries.get(id) === entry) this.#entries.delete(id);
    });
    return value;
  }

  forget(id: TenantId): void {
    this.#entries.delete(id);
  }
}
