// `schema` isolation: each tenant has its own schema in the region's shared database.
import type { TenantId } from '../../tenant-id.ts';
import type { RegionDriver } from '../driver.ts';
import type { Migration } from '../migrations.ts';
import type { Placement, TenantStorage } from './placement.ts';
import { dropLayout, migrateLayout, tenantSchema } from './schema-layout.ts';

export class SchemaPlacement implements Placement {
  readonly isolation = 'schema';

  constructor(private readonly driver: RegionDriver) {}

  async prepare(): Promise<void> {}

  locate(tenant: TenantId): TenantStorage {
    return { database: this.driver.shared, schema: tenantSchema(tenant) };
  }

  create(tenant: TenantId, migrations: readonly Migration[]): Promise<number> {
    const { database, schema } = this.locate(tenant);
    return migrateLayout(database, schema, this.driver.runtimeRole, migrations, true);
  }

  migrate(tenant: TenantId, migrations: readonly Migration[]): Promise<number> {
    const { database, schema } = this.locate(tenant);
    return migrateLayout(database, schema, this.driver.runtimeRole, migrations, false);
  }

  drop(tenant: TenantId): Promise<void> {
    const { database, schema } = this.locate(tenant);
    return dropLayout(database, schema);
  }
}
