// Shapes shared by the doctor's checks: what one inspected database offers, what a check reports.
import type { Queryable } from '../../storage/driver.ts';

/** One problem the doctor found: where, on what, and what is wrong, in words for an operator. */
export interface Finding {
  region: string;
  /** The database inspected: the region's shared database or a tenant database. */
  database: string;
  /** The object at fault: a table, view, function, role or the server. */
  subject: string;
  problem: string;
}

/** What one check found across the deployment. */
export interface CheckReport {
  id: CheckId;
  title: string;
  ok: boolean;
  /** How many objects the check looked at, so a pass over nothing is visible as such. */
  checked: number;
  findings: Finding[];
  /** Facts worth showing even when all is well, such as the server version. */
  notes: string[];
}

export interface InspectedDatabase {
  region: string;
  database: string;
  driver: 'pg' | 'pglite';
  /** Schemas holding tenant tables in this database. */
  layouts: string[];
  tables: number;
}

export interface DoctorReport {
  ok: boolean;
  checks: CheckReport[];
  inspected: InspectedDatabase[];
}

export type CheckId =
  | 'inspection' | 'row-security' | 'runtime-role' | 'views' | 'security-definer'
  | 'tenant-index' | 'privileges' | 'server-version';

/** The runtime role as one database sees it; roles are per cluster, so per PGlite folder. */
export interface RoleFacts {
  name: string;
  exists: boolean;
  superuser: boolean;
  bypassRls: boolean;
  createRole: boolean;
  /** Roles it belongs to (directly or not) that are superusers or have BYPASSRLS. */
  escalations: Array<{ role: string; superuser: boolean; bypassRls: boolean }>;
}

/** One tenant table (ordinary or partitioned) of one layout. */
export interface TenantTable {
  oid: number;
  schema: string;
  name: string;
}

/** What a check gets for one database: read-only admin SQL and the facts gathered once. */
export interface CheckTarget {
  region: string;
  database: string;
  driver: 'pg' | 'pglite';
  /** True for the database where cluster-wide facts (roles, version) are checked. */
  clusterRoot: boolean;
  /** Whether roles live in this database's own cluster (every PGlite folder is one). */
  rolesHere: boolean;
  layouts: string[];
  tables: TenantTable[];
  role: RoleFacts;
  tx: Queryable;
}

export interface CheckResult {
  checked: number;
  findings: Finding[];
  notes?: string[];
}

export interface DoctorCheck {
  id: CheckId;
  title: string;
  run(target: CheckTarget): Promise<CheckResult>;
}

/** `schema.name` for messages; the names come from the catalog, never from a client. */
export function qualifiedName(schema: string, name: string): string {
  return `${schema}.${name}`;
}

/** A finding on `target` about `subject`. */
export function finding(target: CheckTarget, subject: string, problem: string): Finding {
  return { region: target.region, database: target.database, subject, problem };
}
