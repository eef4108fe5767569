// Reads one tenant's rows, table by table, as text, in one consistent snapshot of its layout.
import type { Queryable } from '../storage/driver.ts';
import { quoteCatalogName } from '../storage/sql.ts';
import { bindTenant, type TenantStorage } from '../storage/placements/placement.ts';
import type { TenantId } from '../tenant-id.ts';
import { Handoff } from './handoff.ts';
import {
  qualifiedTable, scanOwnRowsOnly, tenantColumn, tenantTables, textColumns, usePortableText,
  type ColumnShape, type TableShape,
} from './tenant-tables.ts';

/** One row: each column's text form in the table's column order, null for NULL. */
export type TextRow = (string | null)[];

export interface ExportedTable extends TableShape {
  /** Rows of the tenant in the table. */
  readonly rows: number;
  /** Order-independent checksum of the rows' text (see `tableDigest`), when asked for. */
  readonly digest?: string | undefined;
}

/**
 * What an export yields: first the tables, then their rows in batches, parents before
 * children. An import takes the same parts, so `importTenant(…, exportTenant(…))` copies.
 */
export type ExportPart =
  | { readonly kind: 'tables'; readonly tables: readonly ExportedTable[] }
  | { readonly kind: 'rows'; readonly table: string; readonly rows: readonly TextRow[] }
  /** Rows as COPY text lines (see copy-text.ts), as version 2 archives hold them. */
  | { readonly kind: 'copy'; readonly table: string; readonly text: Buffer;
    readonly rows: number };

export interface ExportOptions {
  /** Rough bytes of text per batch; memory stays near a few of these (default 4 MiB). */
  batchBytes?: number;
  /** Compute each table's checksum too (one more read of the table on the server). */
  digests?: boolean;
  signal?: AbortSignal;
}

const cursor = 'tenancy_export';
const firstFetch = 100;
const maxFetch = 10_000;

/**
 * The tenant's rows as an async iterable. Nothing runs until it is iterated; then one
 * read-only REPEATABLE READ transaction as the runtime role, bound to the tenant, reads every
 * tenant table through a cursor, so row-level security confines each read to the tenant in all
 * three isolations, and the rows of all tables come from one instant. A reader that stops early
 * rolls the transaction back.
 *
 * @example
 * for await (const part of exportTenant(storage, 'acme')) …
 * // BEGIN; SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; set_config(…);
 * // DECLARE tenancy_export NO SCROLL CURSOR FOR SELECT "id"::text, … FROM "tenant_acme"."…";
 * // FETCH 100 FROM tenancy_export; … COMMIT
 */
export function exportTenant(storage: TenantStorage, tenant: TenantId,
  options: ExportOptions = {}): AsyncIterable<ExportPart> {
  return {
    [Symbol.asyncIterator]() {
      const handoff = new Handoff<ExportPart>(2);
      const run = storage.database.transaction('runtime', async (tx) => {
        await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
        await bindTenant(tx, tenant);
        await usePortableText(tx);
        await scanOwnRowsOnly(tx, storage);
        await readRows(tx, storage.schema, tenant, options, (part) => handoff.put(part));
      }, { signal: options.signal });
      run.then(() => handoff.end(), (err: unknown) => handoff.end(err ?? new Error('failed')));
      return handoff.drain();
    },
  };
}

async function readRows(tx: Queryable, schema: string, tenant: TenantId, options: ExportOptions,
  emit: (part: ExportPart) => Promise<void>): Promise<void> {
  const shapes = await tenantTables(tx, schema);
  const tables: ExportedTable[] = [];
  for (const shape of shapes) {
    const table = qualifiedTable(schema, shape.name);
    if (options.digests === true) {
      const { rows, digest } = await tableDigest(tx, table, shape.columns, tenant);
      tables.push({ ...shape, rows, digest });
    } else {
      const found = await tx.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`);
      tables.push({ ...shape, rows: Number(found.rows[0]?.n ?? 0) });
    }
  }
  await emit({ kind: 'tables', tables });
  const batchBytes = options.batchBytes ?? 4 * 1024 * 1024;
  for (const shape of tables) {
    if (shape.rows === 0) continue;
    const keys = shape.columns.map((_, i) => `c${i}`);
    await tx.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT ${textColumns(shape.columns)}
      FROM ${qualifiedTable(schema, shape.name)}`);
    let fetch = firstFetch;
    for (;;) {
      options.signal?.throwIfAborted();
      const found = await tx.query<Record<string, string | null>>(
        `FETCH FORWARD ${fetch} FROM ${cursor}`);
      if (found.rows.length === 0) break;
      let bytes = 0;
      const rows = found.rows.map((row) => keys.map((key) => {
        const value = row[key] ?? null;
        if (value !== null) bytes += value.length;
        return value;
      }));
      await emit({ kind: 'rows', table: shape.name, rows });
      if (found.rows.length < fetch) break;
      // The next fetch aims at the byte budget from the rows seen so far, so wide rows (long
      // documents) come a few at a time and narrow ones in thousands.
      const perRow = Math.max(1, bytes / found.rows.length);
      fetch = Math.max(1, Math.min(maxFetch, Math.floor(batchBytes / perRow)));
    }
    await tx.query(`CLOSE ${cursor}`);
  }
}

/**
 * Rows and an order-independent checksum of the tenant's rows in a table: the sum of
 * the first 64 bits of the MD5 of each row's text. Export and import compute it with the same
 * statement, so equal digests mean the same rows arrived.
 */
export async function tableDigest(tx: Queryable, table: string,
  columns: readonly ColumnShape[], tenant: string): Promise<{ rows: number; digest: string }> {
  const row = columns.length === 0 ? "''"
    : `ROW(${columns.map((c) => `${quoteCatalogName(c.name)}::text`).join(', ')})::text`;
  const found = await tx.query<{ n: string; s: string }>(
    `SELECT count(*)::text AS n, coalesce(sum(('x' || left(md5(${row}), 16))::bit(64)::bigint
       ::numeric), 0)::text AS s FROM ${table} WHERE ${tenantColumn} = $1`, [tenant]);
  return { rows: Number(found.rows[0]?.n ?? 0), digest: found.rows[0]?.s ?? '0' };
}
