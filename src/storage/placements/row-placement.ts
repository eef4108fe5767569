// `row` isolation: shared tables with a tenant_id column; row-level security keeps tenants apart.
import type { TenantId } from '../../tenant-id.ts';
import type { RegionDriver } from '../driver.ts';
import type { Migration } from '../migrations.ts';
import { quoteIdent } from '../sql.ts';
import { bindTenant, type Placement, type TenantStorage } from './placement.ts';
import { migrateLayout } from './schema-layout.ts';

/** The schema of the shared row tables, in the region's shared database. */
export const sharedSchema = 'tenancy_rows';

export class RowPlacement implements Placement {
  readonly isolation = 'row';
  #version = 0;

  constructor(private readonly driver: RegionDriver) {}

  /** The shared tables migrate once for all row tenants. */
  async prepare(migrations: readonly Migration[]): Promise<void> {
    const db = this.driver.shared;
    const role = this.driver.runtimeRole;
    this.#version = await migrateLayout(db, sharedSchema, role, migrations, true);
  }

  locate(): TenantStorage {
    return { database: this.driver.shared, schema: sharedSchema, shared: true };
  }

  async create(): Promise<number> {
    return this.#version;
  }

  async migrate(_tenant: TenantId, migrations: readonly Migration[]): Promise<number> {
    await this.prepare(migrations);
    return this.#version;
  }

  /**
   * Deletes the tenant's rows, table by table, inside that tenant's context: the policy itself
   * confines the delete, so even a mistake here cannot reach another tenant.
   */
  async drop(tenant: TenantId): Promise<void> {
    await this.driver.shared.transaction('admin', async (tx) => {
      await bindTenant(tx, tenant);
      const tables = await tx.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind = 'r'`,
        [sharedSchema],
      );
      // Children first would need a dependency order; cascading foreign keys make any order work,
      // and deleting every table of the tenant leaves nothing behind either way.
      for (const { name } of tables.rows) {
        await tx.query(`DELETE FROM ${quoteIdent(sharedSchema)}.${quoteIdent(name)} ` +
          'WHERE tenant_id = $1', [tenant]);
      }
    });
  }
}
