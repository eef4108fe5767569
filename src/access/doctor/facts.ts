// Facts every check needs about one database, read once: its tenant layouts, tables and role.
import type { Queryable } from '../../storage/driver.ts';
import { sharedSchema } from '../../storage/placements/row-placement.ts';
import type { RoleFacts, TenantTable } from './types.ts';

/**
 * The schemas that hold tenant tables here: the shared row schema and every `tenant_…` schema,
 * including ones the catalog no longer knows, since a leftover layout still holds data.
 */
export async function layoutSchemas(tx: Queryable): Promise<string[]> {
  const found = await tx.query<{ name: string }>(
    `SELECT nspname AS name FROM pg_namespace
      WHERE nspname = $1 OR nspname LIKE 'tenant\\_%' ORDER BY nspname`,
    [sharedSchema],
  );
  return found.rows.map((row) => row.name);
}

/** Ordinary and partitioned tables of the layouts; a partition is a table a query can name. */
export async function tenantTables(tx: Queryable, layouts: string[]): Promise<TenantTable[]> {
  if (layouts.length === 0) return [];
  const found = await tx.query<{ oid: number; schema: string; name: string }>(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p')
      ORDER BY n.nspname, c.relname`,
    [layouts],
  );
  return found.rows;
}

/** The runtime role's attributes and the roles it could become through membership. */
export async function roleFacts(tx: Queryable, name: string): Promise<RoleFacts> {
  const self = await tx.query<{ superuser: boolean; bypass: boolean; createrole: boolean }>(
    `SELECT rolsuper AS superuser, rolbypassrls AS bypass, rolcreaterole AS createrole
       FROM pg_roles WHERE rolname = $1`,
    [name],
  );
  const row = self.rows[0];
  if (row === undefined) {
    return {
      name, exists: false, superuser: false, bypassRls: false, createRole: false, escalations: [],
    };
  }
  // pg_has_role(…, 'MEMBER') follows memberships whether or not they inherit: SET ROLE reaches
  // a NOINHERIT grant just the same. A superuser counts as a member of every role, so for one
  // the list would name every powerful role of the cluster and say nothing new.
  const above = row.superuser ? { rows: [] } : await tx.query<{ role: string; superuser: boolean;
    bypass: boolean }>(
    `SELECT rolname AS role, rolsuper AS superuser, rolbypassrls AS bypass FROM pg_roles
      WHERE rolname <> $1 AND (rolsuper OR rolbypassrls) AND pg_has_role($1, oid, 'MEMBER')
      ORDER BY rolname`,
    [name],
  );
  return {
    name,
    exists: true,
    superuser: row.superuser,
    bypassRls: row.bypass,
    createRole: row.createrole,
    escalations: above.rows.map((r) => ({
      role: r.role, superuser: r.superuser, bypassRls: r.bypass,
    })),
  };
}

/** True when the role already gets past every check, so privilege checks add nothing. */
export function allPowerful(role: RoleFacts): boolean {
  return role.superuser || role.escalations.some((r) => r.superuser);
}
