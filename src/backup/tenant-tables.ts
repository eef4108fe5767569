// The tables of one tenant's layout as the catalog describes them, in foreign-key order.
import type { Queryable } from '../storage/driver.ts';
import { quoteCatalogName, quoteIdent } from '../storage/sql.ts';

export interface ColumnShape {
  readonly name: string;
  /** `format_type` of the column, e.g. `timestamp with time zone` or `real[]`. */
  readonly type: string;
}

export interface TableShape {
  readonly name: string;
  /** Every stored column but `tenant_id`, which the target fills from its own context. */
  readonly columns: readonly ColumnShape[];
  /** A foreign key of the table points at the table itself (a tree): rows refer to rows. */
  readonly selfReferencing?: boolean;
}

/** The column every tenant table has; it is never exported, so rows can change tenant. */
export const tenantColumn = 'tenant_id';

/**
 * Settings that make every value's text form read back to the same value on any server: ISO
 * dates in UTC, floats in full, bytea as hex. Transaction-local, like the tenant itself.
 */
export async function usePortableText(tx: Queryable): Promise<void> {
  await tx.query(`SELECT set_config('datestyle', 'ISO, YMD', true),
    set_config('intervalstyle', 'postgres', true), set_config('timezone', 'UTC', true),
    set_config('extra_float_digits', '3', true), set_config('bytea_output', 'hex', true)`);
}

/**
 * In tables shared with other tenants, reads and deletes of one tenant's rows go through the
 * indexes that lead with `tenant_id`, never a scan of every tenant's rows: a tenant's backup or
 * restore then takes as long as its own rows, whatever its neighbours hold. Transaction-local.
 */
export async function scanOwnRowsOnly(tx: Queryable, storage: { shared?: boolean }):
  Promise<void> {
  if (storage.shared === true) await tx.query("SELECT set_config('enable_seqscan', 'off', true)");
}

/**
 * The tenant tables of `schema`: ordinary tables with a `tenant_id` column, parents before the
 * tables whose foreign keys point at them, so inserts in this order and deletes in the reverse
 * never break a reference.
 *
 * @example
 * await tenantTables(tx, 'tenant_acme')
 * // [{ name: 'conversations', columns: [{ name: 'id', type: 'text' }, …] }, …]
 */
export async function tenantTables(tx: Queryable, schema: string): Promise<TableShape[]> {
  const columns = await tx.query<{ table: string; name: string; type: string }>(
    `SELECT c.relname AS table, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
        AND EXISTS (SELECT 1 FROM pg_attribute t WHERE t.attrelid = c.oid
                     AND t.attname = $2 AND NOT t.attisdropped)
      ORDER BY c.relname, a.attnum`,
    [schema, tenantColumn],
  );
  const tables = new Map<string, ColumnShape[]>();
  for (const row of columns.rows) {
    const list = tables.get(row.table) ?? [];
    if (row.name !== tenantColumn) list.push({ name: row.name, type: row.type });
    tables.set(row.table, list);
  }
  const references = await tx.query<{ child: string; parent: string }>(
    `SELECT c.relname AS child, p.relname AS parent
       FROM pg_constraint k
       JOIN pg_class c ON c.oid = k.conrelid
       JOIN pg_class p ON p.oid = k.confrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE k.contype = 'f' AND n.nspname = $1 AND p.relnamespace = c.relnamespace`,
    [schema],
  );
  const parents = new Map<string, Set<string>>();
  const selfReferencing = new Set<string>();
  for (const { child, parent } of references.rows) {
    if (!tables.has(child) || !tables.has(parent)) continue;
    if (child === parent) {
      selfReferencing.add(child);
      continue;
    }
    const set = parents.get(child) ?? new Set<string>();
    set.add(parent);
    parents.set(child, set);
  }
  const ordered: TableShape[] = [];
  const placed = new Set<string>();
  const visiting = new Set<string>();
  const place = (name: string): void => {
    if (placed.has(name) || visiting.has(name)) return;
    visiting.add(name);
    for (const parent of [...(parents.get(name) ?? [])].sort()) place(parent);
    visiting.delete(name);
    placed.add(name);
    ordered.push({ name, columns: tables.get(name) ?? [],
      ...(selfReferencing.has(name) ? { selfReferencing: true } : {}) });
  };
  for (const name of [...tables.keys()].sort()) place(name);
  return ordered;
}

/** `"tenant_acme"."messages"` */
export function qualifiedTable(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteCatalogName(table)}`;
}

/** The select list that reads each column as its text form: `"id"::text, "ts"::text, …`. */
export function textColumns(columns: readonly ColumnShape[]): string {
  return columns.map((c, i) => `${quoteCatalogName(c.name)}::text AS c${i}`).join(', ');
}

/**
 * Moves each sequence behind a serial or identity column of the layout past the largest value
 * the tenant's rows now hold, so rows loaded with their ids (a clone into a fresh layout, a
 * move) do not collide with the next ones. A sequence already further on is left alone.
 *
 * @example
 * await advanceSequences(tx, 'tenant_acme', 'acme')
 * // SELECT setval('"tenant_acme"."tickets_id_seq"'::regclass, m) FROM (SELECT max("id") …) …
 */
export async function advanceSequences(tx: Queryable, schema: string, tenant: string):
  Promise<void> {
  const found = await tx.query<{ table: string; column: string; sequence: string }>(
    `SELECT c.relname AS table, a.attname AS column, s.sequence
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       CROSS JOIN LATERAL (SELECT pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname),
         a.attname) AS sequence) s
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND s.sequence IS NOT NULL`,
    [schema]);
  for (const { table, column, sequence } of found.rows) {
    await tx.query(
      `SELECT setval($1::regclass, m) FROM (SELECT max(${quoteCatalogName(column)})::bigint AS m
         FROM ${qualifiedTable(schema, table)} WHERE ${tenantColumn} = $2) loaded
        WHERE m IS NOT NULL AND m > coalesce(pg_sequence_last_value($1::regclass), 0)`,
      [sequence, tenant]);
  }
}
