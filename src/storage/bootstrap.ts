// SQL that prepares any database Tenancy uses: the runtime role and the tenant-context function.
import { quoteIdent } from './sql.ts';

/**
 * Creates the runtime role if it is missing. Roles are cluster-wide, so two processes may race:
 * the loser's duplicate error is swallowed.
 */
export function createRoleSql(role: string, login: boolean): string {
  const r = quoteIdent(role);
  const attrs = `${login ? 'LOGIN' : 'NOLOGIN'} NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS`;
  return `DO $$ BEGIN
  CREATE ROLE ${r} ${attrs} NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;`;
}

/**
 * The `tenancy` schema and `tenancy.current_tenant()`, which every tenant-table policy calls.
 * It reads the transaction-local setting and raises TN001 when there is none, so a query
 * without a tenant context fails instead of matching nothing silently (or everything).
 */
export function helperSchemaSql(role: string): string {
  const r = quoteIdent(role);
  return `
CREATE SCHEMA IF NOT EXISTS tenancy;
CREATE OR REPLACE FUNCTION tenancy.current_tenant() RETURNS text
  LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
  SET search_path = pg_catalog
AS $fn$
DECLARE
  tenant text := current_setting('tenancy.tenant_id', true);
BEGIN
  IF tenant IS NULL OR tenant = '' THEN
    RAISE EXCEPTION 'no tenant context' USING ERRCODE = 'TN001';
  END IF;
  RETURN tenant;
END
$fn$;
REVOKE ALL ON SCHEMA tenancy FROM PUBLIC;
GRANT USAGE ON SCHEMA tenancy TO ${r};
REVOKE ALL ON FUNCTION tenancy.current_tenant() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.current_tenant() TO ${r};
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
-- A temporary table lives on in the server session after COMMIT, and a pool (or PgBouncer)
-- hands that session to the next tenant: the runtime role may not make one, so PUBLIC loses TEMP.
DO $temp$ BEGIN
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM %I', current_database(), ${pgText(role)});
END $temp$;
-- Where each layout (a tenant schema, or the shared row tables) stands in the migration list.
-- It lives beside the data so a migration and its record commit together.
CREATE TABLE IF NOT EXISTS tenancy.layout_versions (
  layout text PRIMARY KEY,
  version integer NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
`;
}

/** The SQLSTATE raised by `tenancy.current_tenant()` without a context. */
export const noTenantContextState = 'TN001';

/** A validated identifier as an SQL string literal, for format() inside a DO block. */
function pgText(value: string): string {
  quoteIdent(value);
  return `'${value}'`;
}
