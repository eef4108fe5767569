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
-- Tenant layouts (the schema a tenant's tables are in) no session may enter in this database:
-- being moved out, moved away (to another region or isolation) or deleted. A session reads its
-- own tenant's rows only (the policy), so no tenant learns of another's move.
-- The column is not called tenant_id: a fence is no data of the tenant, and residency reports,
-- which look for tenant rows in every table with that column, must not count it as a copy.
CREATE TABLE IF NOT EXISTS tenancy.tenant_fences (
  tenant text NOT NULL,
  layout text NOT NULL,
  reason text NOT NULL CHECK (reason IN ('moving', 'moved', 'deleted')),
  fenced_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, layout)
);
ALTER TABLE tenancy.tenant_fences ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenancy.tenant_fences FORCE ROW LEVEL SECURITY;
DO $fence$ BEGIN
  CREATE POLICY own_fence ON tenancy.tenant_fences FOR SELECT TO ${r}
    USING (tenant = tenancy.current_tenant());
EXCEPTION WHEN duplicate_object THEN NULL;
END $fence$;
REVOKE ALL ON tenancy.tenant_fences FROM PUBLIC;
GRANT SELECT ON tenancy.tenant_fences TO ${r};
-- Binds the transaction to the tenant, holds the tenant's lock shared until the transaction ends
-- (a move or delete takes it exclusively to wait such sessions out), then refuses a fenced
-- layout. VOLATILE: the fence is read with a snapshot taken after the lock was granted.
CREATE OR REPLACE FUNCTION tenancy.enter_tenant(tenant_name text, tenant_layout text) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $fn$
DECLARE
  fenced text;
BEGIN
  -- One tenant per transaction: code running inside a session cannot re-enter as another.
  IF COALESCE(pg_catalog.current_setting('tenancy.tenant_id', true), '')
     OPERATOR(pg_catalog.<>) '' THEN
    RAISE EXCEPTION 'a session enters one tenant only' USING ERRCODE = '${reenterState}';
  END IF;
  PERFORM pg_catalog.set_config('tenancy.tenant_id', tenant_name, true);
  PERFORM pg_catalog.pg_advisory_xact_lock_shared(${tenantLockSpace},
    pg_catalog.hashtext(tenant_name));
  SELECT f.reason INTO fenced FROM tenancy.tenant_fences f
   WHERE f.tenant OPERATOR(pg_catalog.=) tenant_name
     AND f.layout OPERATOR(pg_catalog.=) tenant_layout;
  IF FOUND THEN
    RAISE EXCEPTION 'tenant is fenced' USING ERRCODE = '${tenantFencedState}', DETAIL = fenced;
  END IF;
END
$fn$;
REVOKE ALL ON FUNCTION tenancy.enter_tenant(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.enter_tenant(text, text) TO ${r};
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

/** The SQLSTATE raised by `tenancy.enter_tenant()` for a fenced tenant; DETAIL is the reason. */
export const tenantFencedState = 'TN002';

/** The SQLSTATE raised by `tenancy.enter_tenant()` inside a transaction that has a tenant. */
export const reenterState = 'TN003';

/**
 * The first key of every tenant's advisory lock (the second is `hashtext(tenant id)`), so the
 * lock never meets an advisory lock that an application takes for its own purposes by accident.
 */
export const tenantLockSpace = 1_414_745_934;

/** A validated identifier as an SQL string literal, for format() inside a DO block. */
function pgText(value: string): string {
  quoteIdent(value);
  return `'${value}'`;
}
