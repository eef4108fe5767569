// Creates and migrates one schema of tenant tables, recording its version beside the data.
import type { Database, Queryable } from '../driver.ts';
import { migrationContext, type Migration } from '../migrations.ts';
import { quoteIdent } from '../sql.ts';

/**
 * Applies the migrations newer than the schema's recorded version, in one admin transaction.
 * The version row is locked first, so two processes migrating the same layout take turns and
 * the second finds nothing left to do.
 */
export async function migrateLayout(
  db: Database,
  schema: string,
  runtimeRole: string,
  migrations: readonly Migration[],
  create: boolean,
): Promise<number> {
  return db.transaction('admin', async (tx) => {
    if (create) {
      await tx.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
      await tx.query(`GRANT USAGE ON SCHEMA ${quoteIdent(schema)} TO ${quoteIdent(runtimeRole)}`);
      await tx.query(
        'INSERT INTO tenancy.layout_versions (layout, version) VALUES ($1, 0) ' +
          'ON CONFLICT (layout) DO NOTHING',
        [schema],
      );
    }
    const current = await lockedVersion(tx, schema);
    const ctx = migrationContext(schema, runtimeRole);
    let version = current;
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      await tx.exec(migration.up(ctx));
      version = migration.version;
    }
    if (version !== current) {
      await tx.query(
        'UPDATE tenancy.layout_versions SET version = $2, updated_at = now() WHERE layout = $1',
        [schema, version],
      );
    }
    return version;
  });
}

async function lockedVersion(tx: Queryable, schema: string): Promise<number> {
  const result = await tx.query<{ version: number }>(
    'SELECT version FROM tenancy.layout_versions WHERE layout = $1 FOR UPDATE',
    [schema],
  );
  const row = result.rows[0];
  if (row === undefined) throw new Error(`layout ${schema} has no recorded version`);
  return row.version;
}

export async function dropLayout(db: Database, schema: string): Promise<void> {
  await db.transaction('admin', async (tx) => {
    await tx.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    await tx.query('DELETE FROM tenancy.layout_versions WHERE layout = $1', [schema]);
  });
}

/** `tenant_acme` for tenant `acme`: the schema name is derived, never taken from input. */
export function tenantSchema(tenant: string): string {
  return `tenant_${tenant}`;
}
