// Looks at one region's server and store and lists every tenant's things found there.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database, Queryable } from '../storage/driver.ts';
import type { DatabasePlacement } from '../storage/placements/database-placement.ts';
import type { RegionStorage } from '../storage/region.ts';
import { quoteIdent } from '../storage/sql.ts';
import type { BackupPlaces } from './backup-places.ts';

/**
 * `rows`: tables and rows in any layout; `keys`: wrapped keys; `audit`: audit records;
 * `catalog`: routing and access data kept beside the catalog; `backups`: archives; `record`:
 * a note that keys were destroyed; `other`: rows of a table Tenancy does not classify.
 */
export type PlaceKind = 'rows' | 'keys' | 'audit' | 'catalog' | 'backups' | 'record' | 'other';

/** Something of one tenant, found in one region. */
export interface Place {
  tenantId: string;
  region: string;
  kind: PlaceKind;
  /** `tenancy_rows.messages`, `schema tenant_acme`, `database tenancy_acme`, a store path… */
  where: string;
  /** Rows, or archives for `backups`. */
  count: number;
  /** The layout the rows are in, for `rows`. */
  isolation?: 'row' | 'schema' | 'database';
}

const catalogTables = new Set(['tenancy.tenants', 'tenancy.api_keys', 'tenancy.tenant_limits',
  'tenancy.region_moves']);

function kindOf(schema: string, table: string): PlaceKind {
  const name = `${schema}.${table}`;
  if (catalogTables.has(name)) return 'catalog';
  if (name === 'tenancy.audit_log') return 'audit';
  if (name === 'tenancy_keys.destroyed') return 'record';
  if (schema === 'tenancy_keys') return 'keys';
  if (schema === 'tenancy_rows' || schema.startsWith('tenant_')) return 'rows';
  return 'other';
}

interface TableRef {
  schema: string;
  name: string;
}

/** Every table with a `tenant_id` column, in creation order. */
async function tenantTables(tx: Queryable): Promise<TableRef[]> {
  const found = await tx.query<TableRef>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      ORDER BY c.oid`);
  return found.rows;
}

/** Rows per tenant of each table with a tenant_id column. Admin reads: RLS is the owner's. */
async function countRows(db: Database): Promise<{ table: TableRef; tenantId: string;
  count: number }[]> {
  return db.transaction('admin', async (tx) => {
    const out: { table: TableRef; tenantId: string; count: number }[] = [];
    for (const table of await tenantTables(tx)) {
      const counts = await tx.query<{ tenant_id: string | null; n: number }>(
        `SELECT tenant_id, count(*)::int AS n FROM ${quoteIdent(table.schema)}.` +
        `${quoteIdent(table.name)} GROUP BY tenant_id`);
      for (const row of counts.rows) {
        if (row.tenant_id !== null) out.push({ table, tenantId: row.tenant_id, count: row.n });
      }
    }
    return out;
  });
}

/** Names of tenant databases on the region's server (folders on PGlite), by tenant id. */
async function tenantDatabases(region: RegionStorage, dataDir: string, prefix: string):
  Promise<Map<string, string>> {
  let names: string[];
  if (region.driver.kind === 'pglite') {
    names = await readdir(join(dataDir, 'regions', region.name, 'databases'))
      .catch(() => [] as string[]);
  } else {
    const found = await region.driver.shared.transaction('admin', (tx) => tx.query<{
      datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)',
      [prefix]));
    names = found.rows.map((r) => r.datname);
  }
  return new Map(names.filter((n) => n.startsWith(prefix) && n.length > prefix.length)
    .map((n) => [n.slice(prefix.length), n]));
}

/**
 * Everything of every tenant in one region: rows and tables of all three layouts, keyrings,
 * audit records, catalog rows and archives, found by querying the server and listing the store.
 */
export async function inspectRegion(region: RegionStorage, dataDir: string,
  backups: BackupPlaces | undefined): Promise<Place[]> {
  const places: Place[] = [];
  const add = (place: Place): void => {
    const same = places.find((p) => p.tenantId === place.tenantId && p.kind === place.kind &&
      p.where === place.where);
    if (same === undefined) places.push(place);
    else same.count += place.count;
  };
  const shared = region.driver.shared;
  const schemas = await shared.transaction('admin', (tx) => tx.query<{ nspname: string }>(
    "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, 'tenant_')"));
  for (const { nspname } of schemas.rows) {
    add({ tenantId: nspname.slice('tenant_'.length), region: region.name, kind: 'rows',
      where: `schema ${nspname}`, count: 0, isolation: 'schema' });
  }
  for (const { table, tenantId, count } of await countRows(shared)) {
    const kind = kindOf(table.schema, table.name);
    if (kind === 'rows' && table.schema !== 'tenancy_rows') {
      add({ tenantId: table.schema.slice('tenant_'.length), region: region.name, kind,
        where: `schema ${table.schema}`, count, isolation: 'schema' });
      continue;
    }
    add({ tenantId, region: region.name, kind, where: `${table.schema}.${table.name}`, count,
      ...(kind === 'rows' ? { isolation: 'row' as const } : {}) });
  }
  const placement = region.placement('database') as DatabasePlacement;
  const prefix = placement.databaseName('' as never);
  for (const [tenantId, name] of await tenantDatabases(region, dataDir, prefix)) {
    let count = 0;
    for (const found of await countRows(region.driver.tenantDatabase(name))) count += found.count;
    add({ tenantId, region: region.name, kind: 'rows', where: `database ${name}`, count,
      isolation: 'database' });
  }
  if (backups !== undefined) {
    for (const [tenantId, ids] of await backups.list()) {
      add({ tenantId, region: region.name, kind: 'backups', where: backups.where,
        count: ids.length });
    }
  }
  return places;
}
