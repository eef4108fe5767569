// Token buckets keyed by tenant: each tenant spends its own budget, so a busy one slows no other.

export interface RateLimit {
  /** Tokens added per second; 0 means no limit. */
  perSecond: number;
  /** Largest number of tokens a bucket holds. */
  burst: number;
}

export interface RateDecision {
  allowed: boolean;
  /** Whole seconds until a token is there again (at least 1 when refused). */
  retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

const allowed: RateDecision = { allowed: true, retryAfterSeconds: 0 };

/**
 * One process's buckets. Several processes behind a load balancer each keep their own, so the
 * deployment-wide rate is at most the per-process rate times the number of processes.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();

  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly maxBuckets = 100_000,
  ) {}

  take(key: string, limit: RateLimit): RateDecision {
    if (limit.perSecond <= 0) return allowed;
    const now = this.now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.maxBuckets) this.#sweep(now, limit);
      bucket = { tokens: limit.burst, at: now };
      this.#buckets.set(key, bucket);
    } else {
      const refill = ((now - bucket.at) / 1000) * limit.perSecond;
      bucket.tokens = Math.min(limit.burst, bucket.tokens + refill);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return allowed;
    }
    const wait = (1 - bucket.tokens) / limit.perSecond;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(wait)) };
  }

  /** A full bucket is the same as no bucket: dropping those keeps the map small. */
  #sweep(now: number, limit: RateLimit): void {
    for (const [key, bucket] of this.#buckets) {
      const tokens = bucket.tokens + ((now - bucket.at) / 1000) * limit.perSecond;
      if (tokens >= limit.burst) this.#buckets.delete(key);
    }
    if (this.#buckets.size >= this.maxBuckets) this.#buckets.clear();
  }
}
