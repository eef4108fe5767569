// Per-tenant limits: the config's defaults, overridden per tenant in a small catalog table.
import type { LimitsConfig } from '../config/schema.ts';
import type { Database } from '../storage/driver.ts';
import type { TenantId } from '../tenant-id.ts';
import { RateLimiter, type RateDecision } from './rate-limiter.ts';

export interface Limits {
  requestsPerSecond: number;
  burst: number;
  statementTimeoutMillis: number;
}

/** Fields set for one tenant; a missing field falls back to the config's default. */
export type LimitOverrides = Partial<Limits>;

/** A change: a number sets a field, null clears it back to the default. */
export type LimitChange = { [K in keyof Limits]?: number | null };

export interface TenantLimitsView {
  tenantId: TenantId;
  effective: Limits;
  overrides: LimitOverrides;
}

interface Row {
  tenant_id: string;
  requests_per_second: number | null;
  burst: number | null;
  statement_timeout_millis: number | null;
}

// Overrides are few (only tenants someone tuned), so the whole table is read at once and
// re-read after this long; a change made in this process is seen at once.
const refreshMillis = 5000;

function overridesOf(row: Row): LimitOverrides {
  const out: LimitOverrides = {};
  if (row.requests_per_second !== null) out.requestsPerSecond = Number(row.requests_per_second);
  if (row.burst !== null) out.burst = Number(row.burst);
  if (row.statement_timeout_millis !== null) {
    out.statementTimeoutMillis = Number(row.statement_timeout_millis);
  }
  return out;
}

export class TenantLimits {
  readonly #limiter = new RateLimiter();
  #snapshot: { rows: Map<string, LimitOverrides>; at: number } | undefined;
  #loading: Promise<Map<string, LimitOverrides>> | undefined;

  constructor(private readonly db: Database, private readonly defaults: LimitsConfig) {}

  async prepare(): Promise<void> {
    await this.db.exec(`
CREATE TABLE IF NOT EXISTS tenancy.tenant_limits (
  tenant_id text PRIMARY KEY REFERENCES tenancy.tenants (id),
  requests_per_second double precision CHECK (requests_per_second >= 0),
  burst integer CHECK (burst >= 1),
  statement_timeout_millis integer CHECK (statement_timeout_millis >= 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);`);
  }

  /** The limits in force for a tenant. */
  async of(tenant: TenantId): Promise<Limits> {
    const overrides = (await this.#overrides()).get(tenant) ?? {};
    return { ...this.defaults, ...overrides };
  }

  async view(tenant: TenantId): Promise<TenantLimitsView> {
    const overrides = (await this.#overrides()).get(tenant) ?? {};
    return { tenantId: tenant, overrides, effective: { ...this.defaults, ...overrides } };
  }

  /** Applies a change to a tenant's overrides; a tenant left with none loses its row. */
  async set(tenant: TenantId, change: LimitChange): Promise<TenantLimitsView> {
    const current = (await this.#overrides()).get(tenant) ?? {};
    const next: Record<string, number | null> = { ...current };
    for (const [key, value] of Object.entries(change)) next[key] = value ?? null;
    const value = (key: keyof Limits): number | null => next[key] ?? null;
    await this.db.transaction('admin', async (tx) => {
      if (Object.values(next).every((v) => v === null)) {
        await tx.query('DELETE FROM tenancy.tenant_limits WHERE tenant_id = $1', [tenant]);
        return;
      }
      await tx.query(
        `INSERT INTO tenancy.tenant_limits
           (tenant_id, requests_per_second, burst, statement_timeout_millis)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id) DO UPDATE SET requests_per_second = $2, burst = $3,
           statement_timeout_millis = $4, updated_at = now()`,
        [tenant, value('requestsPerSecond'), value('burst'), value('statementTimeoutMillis')],
      );
    });
    // A read that started before the write may still land; wait for it, then drop what it got.
    await this.#loading?.catch(() => undefined);
    this.#snapshot = undefined;
    return this.view(tenant);
  }

  /** Spends one request of the tenant's rate; refused ones say when to come back. */
  async take(tenant: TenantId): Promise<RateDecision> {
    const limits = await this.of(tenant);
    return this.#limiter.take(tenant, { perSecond: limits.requestsPerSecond,
      burst: limits.burst });
  }

  async #overrides(): Promise<Map<string, LimitOverrides>> {
    const now = Date.now();
    if (this.#snapshot !== undefined && now - this.#snapshot.at < refreshMillis) {
      return this.#snapshot.rows;
    }
    this.#loading ??= (async () => {
      try {
        const result = await this.db.transaction('admin', (tx) => tx.query<Row>(
          `SELECT tenant_id, requests_per_second, burst, statement_timeout_millis
             FROM tenancy.tenant_limits`));
        const rows = new Map(result.rows.map((row) => [row.tenant_id, overridesOf(row)]));
        this.#snapshot = { rows, at: Date.now() };
        return rows;
      } finally {
        this.#loading = undefined;
      }
    })();
    return this.#loading;
  }
}
