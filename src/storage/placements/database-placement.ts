// `database` isolation: each tenant has its own database (on PGlite, its own data folder).
import type { TenantId } from '../../tenant-id.ts';
import type { RegionDriver } from '../driver.ts';
import type { Migration } from '../migrations.ts';
import type { Placement, TenantStorage } from './placement.ts';
import { migrateLayout, tenantSchema } from './schema-layout.ts';

export class DatabasePlacement implements Placement {
  readonly isolation = 'database';

  constructor(private readonly driver: RegionDriver, private readonly prefix: string) {}

  async prepare(): Promise<void> {}

  /** The database name is the configured prefix plus the validated tenant id. */
  databaseName(tenant: TenantId): string {
    return `${this.prefix}${tenant}`;
  }

  locate(tenant: TenantId): TenantStorage {
    return {
      database: this.driver.tenantDatabase(this.databaseName(tenant)),
      schema: tenantSchema(tenant),
    };
  }

  async create(tenant: TenantId, migrations: readonly Migration[]): Promise<number> {
    const name = this.databaseName(tenant);
    // A database left by a create that died half way is dropped and made again.
    if (await this.driver.databaseExists(name)) await this.driver.dropDatabase(name);
    await this.driver.createDatabase(name);
    const { database, schema } = this.locate(tenant);
    return migrateLayout(database, schema, this.driver.runtimeRole, migrations, true);
  }

  migrate(tenant: TenantId, migrations: readonly Migration[]): Promise<number> {
    const { database, schema } = this.locate(tenant);
    return migrateLayout(database, schema, this.driver.runtimeRole, migrations, false);
  }

  drop(tenant: TenantId): Promise<void> {
    return this.driver.dropDatabase(this.databaseName(tenant));
  }
}
