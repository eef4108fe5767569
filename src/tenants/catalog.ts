// The catalog: which tenants exist, where they live and in what state. Routing data only.
import type { Isolation } from '../config/schema.ts';
import { TenancyError } from '../errors.ts';
import type { TenantId } from '../tenant-id.ts';
import type { Database } from '../storage/driver.ts';
import { toTenancyError } from '../storage/database-error.ts';

/** `creating` and `deleting` are the in-between states a crash may leave; both can be retried. */
export type TenantStatus = 'creating' | 'active' | 'suspended' | 'deleting' | 'deleted';

export interface Tenant {
  id: TenantId;
  displayName: string;
  region: string;
  isolation: Isolation;
  status: TenantStatus;
  schemaVersion: number;
  createdAt: Date;
  updatedAt: Date;
}

interface TenantRow {
  id: string;
  display_name: string;
  region: string;
  isolation: Isolation;
  status: TenantStatus;
  schema_version: number;
  created_at: Date;
  updated_at: Date;
}

const columns =
  'id, display_name, region, isolation, status, schema_version, created_at, updated_at';

function toTenant(row: TenantRow): Tenant {
  return {
    id: row.id as TenantId,
    displayName: row.display_name,
    region: row.region,
    isolation: row.isolation,
    status: row.status,
    schemaVersion: row.schema_version,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export interface ListTenantsOptions {
  status?: TenantStatus | undefined;
  region?: string | undefined;
  limit?: number | undefined;
  /** Returns tenants whose id sorts after this one. */
  after?: string | undefined;
}

export class Catalog {
  constructor(private readonly db: Database) {}

  async prepare(): Promise<void> {
    await this.db.exec(`
CREATE TABLE IF NOT EXISTS tenancy.tenants (
  id text PRIMARY KEY,
  display_name text NOT NULL,
  region text NOT NULL,
  isolation text NOT NULL CHECK (isolation IN ('database', 'schema', 'row')),
  status text NOT NULL
    CHECK (status IN ('creating', 'active', 'suspended', 'deleting', 'deleted')),
  schema_version integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tenants_region_status ON tenancy.tenants (region, status);`);
  }

  /** Records a new tenant as `creating`; an id ever used before is refused. */
  async insert(tenant: Pick<Tenant, 'id' | 'displayName' | 'region' | 'isolation'>):
    Promise<Tenant> {
    try {
      const result = await this.db.transaction('admin', (tx) =>
        tx.query<TenantRow>(
          `INSERT INTO tenancy.tenants (id, display_name, region, isolation, status)
           VALUES ($1, $2, $3, $4, 'creating') RETURNING ${columns}`,
          [tenant.id, tenant.displayName, tenant.region, tenant.isolation],
        ),
      );
      return toTenant(result.rows[0] as TenantRow);
    } catch (err) {
      const wrapped = toTenancyError(err, tenant.id);
      if (wrapped.code === 'ID_TAKEN') throw new TenancyError('TENANT_EXISTS', { cause: err });
      throw wrapped;
    }
  }

  async get(id: TenantId): Promise<Tenant | undefined> {
    const result = await this.db.transaction('admin', (tx) =>
      tx.query<TenantRow>(`SELECT ${columns} FROM tenancy.tenants WHERE id = $1`, [id]),
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toTenant(row);
  }

  async list(options: ListTenantsOptions = {}): Promise<Tenant[]> {
    const result = await this.db.transaction('admin', (tx) =>
      tx.query<TenantRow>(
        `SELECT ${columns} FROM tenancy.tenants
          WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR region = $2)
            AND ($3::text IS NULL OR id > $3)
          ORDER BY id LIMIT $4`,
        [options.status ?? null, options.region ?? null, options.after ?? null,
          options.limit ?? 1000],
      ),
    );
    return result.rows.map(toTenant);
  }

  /** Moves a tenant from one of `from` to `to`; returns undefined when it was in no such state. */
  async transition(id: TenantId, from: readonly TenantStatus[], to: TenantStatus):
    Promise<Tenant | undefined> {
    const result = await this.db.transaction('admin', (tx) =>
      tx.query<TenantRow>(
        `UPDATE tenancy.tenants SET status = $3, updated_at = now()
          WHERE id = $1 AND status = ANY($2::text[]) RETURNING ${columns}`,
        [id, from, to],
      ),
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toTenant(row);
  }

  async setSchemaVersion(id: TenantId, version: number): Promise<void> {
    await this.db.transaction('admin', (tx) =>
      tx.query('UPDATE tenancy.tenants SET schema_version = $2 WHERE id = $1', [id, version]),
    );
  }

  /** Tenants of one region and isolation whose recorded version is below `version`. */
  async behind(region: string, version: number): Promise<Tenant[]> {
    const result = await this.db.transaction('admin', (tx) =>
      tx.query<TenantRow>(
        `SELECT ${columns} FROM tenancy.tenants
          WHERE region = $1 AND schema_version < $2 AND status IN ('active', 'suspended')
          ORDER BY id`,
        [region, version],
      ),
    );
    return result.rows.map(toTenant);
  }

  /** Removes a catalog row outright: only for a create that failed before anything existed. */
  async forget(id: TenantId): Promise<void> {
    await this.db.transaction('admin', (tx) =>
      tx.query("DELETE FROM tenancy.tenants WHERE id = $1 AND status = 'creating'", [id]),
    );
  }
}
