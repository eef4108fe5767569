// Versioned migrations for tenant tables; one list applies to every tenant in every isolation.
import { quoteIdent } from './sql.ts';

export interface MigrationContext {
  /** The qualified name of a tenant table in this tenant's layout. */
  table(name: string): string;
  /**
   * Row-level security for a tenant table: enabled, forced (so the owner obeys it too), one
   * policy on `tenant_id`, and data privileges for the runtime role, nothing more.
   */
  secure(name: string): string;
}

export interface Migration {
  readonly version: number;
  readonly name: string;
  up(ctx: MigrationContext): string;
}

export function migrationContext(schema: string, runtimeRole: string): MigrationContext {
  const table = (name: string): string => `${quoteIdent(schema)}.${quoteIdent(name)}`;
  return {
    table,
    secure(name) {
      const t = table(name);
      // The sub-select makes the planner evaluate the tenant once per statement (an InitPlan),
      // so the policy can drive an index scan on (tenant_id, …).
      const check = 'tenant_id = (SELECT tenancy.current_tenant())';
      return `
ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${t} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ${t} USING (${check}) WITH CHECK (${check});
GRANT SELECT, INSERT, UPDATE, DELETE ON ${t} TO ${quoteIdent(runtimeRole)};`;
    },
  };
}

/** Checks that versions start at 1 and rise by one, so every layout can say where it stands. */
export function checkMigrations(migrations: readonly Migration[]): void {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new Error(`migration "${migration.name}" has version ${migration.version}, ` +
        `expected ${index + 1}`);
    }
  });
}

export function latestVersion(migrations: readonly Migration[]): number {
  return migrations.at(-1)?.version ?? 0;
}
