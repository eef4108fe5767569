// The interface every isolation implements: where a tenant's tables live and how they change.
import type { Isolation } from '../../config/schema.ts';
import type { TenantId } from '../../tenant-id.ts';
import type { Database, Queryable } from '../driver.ts';
import type { Migration } from '../migrations.ts';

export interface TenantStorage {
  readonly database: Database;
  /** Schema holding the tenant's tables. */
  readonly schema: string;
  /** The tables hold other tenants' rows too (`row` isolation). */
  readonly shared?: boolean;
}

export interface Placement {
  readonly isolation: Isolation;
  /** Runs once when a region opens: shared structures, if the isolation has any. */
  prepare(migrations: readonly Migration[]): Promise<void>;
  /** Where one tenant's tables are. Pure: it opens nothing. */
  locate(tenant: TenantId): TenantStorage;
  /** Lays out a new tenant's storage at the latest migration. Returns that version. */
  create(tenant: TenantId, migrations: readonly Migration[]): Promise<number>;
  /** Applies the migrations the tenant lacks. Returns the version it stands at afterwards. */
  migrate(tenant: TenantId, migrations: readonly Migration[]): Promise<number>;
  /** Removes every row and table of the tenant, and nothing of anyone else. */
  drop(tenant: TenantId): Promise<void>;
}

/**
 * Enters a tenant session, in one round trip: binds the transaction to the tenant, holds the
 * tenant's advisory lock shared until it ends, and fails (TENANT_SUSPENDED, or TENANT_NOT_FOUND
 * once deleted) when a move or delete has fenced the tenant's layout (`storage.schema`) off.
 */
export async function enterTenant(tx: Queryable, storage: TenantStorage, tenant: TenantId):
  Promise<void> {
  await tx.query('SELECT tenancy.enter_tenant($1, $2)', [tenant, storage.schema]);
}

/**
 * Binds a transaction to one tenant: the setting lives until the transaction ends. For the
 * admin's own work on a tenant (export, drop); sessions use `enterTenant`.
 */
export async function bindTenant(tx: Queryable, tenant: TenantId): Promise<void> {
  await tx.query("SELECT set_config('tenancy.tenant_id', $1, true)", [tenant]);
}
