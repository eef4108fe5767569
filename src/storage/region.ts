// A region's storage: its driver and one placement per isolation, built from its config.
import { join } from 'node:path';
import type { Isolation, RegionConfig } from '../config/schema.ts';
import type { RegionDriver } from './driver.ts';
import { PgRegionDriver } from './drivers/pg/pg-driver.ts';
import { PgliteRegionDriver } from './drivers/pglite/pglite-driver.ts';
import type { Migration } from './migrations.ts';
import { DatabasePlacement } from './placements/database-placement.ts';
import type { Placement } from './placements/placement.ts';
import { RowPlacement } from './placements/row-placement.ts';
import { SchemaPlacement } from './placements/schema-placement.ts';

export class RegionStorage {
  readonly driver: RegionDriver;
  readonly #placements: Record<Isolation, Placement>;

  constructor(readonly name: string, config: RegionConfig, dataDir: string) {
    this.driver = config.database === 'embedded'
      ? new PgliteRegionDriver({
        folder: join(dataDir, 'regions', name),
        runtimeRole: config.runtimeRole,
        maxOpenDatabases: config.maxOpenDatabases,
      })
      : new PgRegionDriver({
        database: config.database,
        runtimeDatabase: config.runtimeDatabase,
        runtimeRole: config.runtimeRole,
        runtimePassword: config.runtimePassword,
        sharedPoolSize: config.pool.shared,
        tenantDatabaseCeiling: config.pool.tenantDatabases,
        idleMillis: config.pool.idleMillis,
        acquireTimeoutMillis: config.pool.acquireTimeoutMillis,
      });
    this.#placements = {
      database: new DatabasePlacement(this.driver, config.tenantDatabasePrefix),
      schema: new SchemaPlacement(this.driver),
      row: new RowPlacement(this.driver),
    };
  }

  placement(isolation: Isolation): Placement {
    return this.#placements[isolation];
  }

  async open(migrations: readonly Migration[]): Promise<void> {
    await this.driver.bootstrap();
    await this.#placements.row.prepare(migrations);
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}
