// Many-row loads into tenant tables, shaped for the driver: COPY where the admin may use it,
// else a multi-row VALUES list for a server over a socket, or unnested text arrays in process.
// The next batch is prepared while the last one is on its way.
import { TenancyError } from '../errors.ts';
import type { CopySink, Queryable } from '../storage/driver.ts';
import { quoteCatalogName } from '../storage/sql.ts';
import { copyField, decodeCopyRows, encodeCopyRows, prefixCopyRows } from './copy-text.ts';
import type { TextRow } from './tenant-export.ts';
import { tenantColumn, type ColumnShape } from './tenant-tables.ts';

/** `copy` needs a transaction exempt from row-level security (see `Database.adminCopies`). */
export type BulkStyle = 'copy' | 'values' | 'arrays';

const currentTenant = '(SELECT tenancy.current_tenant())';
/** Postgres takes at most 65,535 parameters in one statement. */
const maxParameters = 65_535;
/** Rows per VALUES statement: past this, planning grows and the gain does not. */
const maxValuesRows = 1_000;

export interface BulkTable {
  /** `"schema"."table"`, already quoted. */
  readonly table: string;
  readonly name: string;
  /** Columns as the rows carry them, each with the target's type. */
  readonly columns: readonly ColumnShape[];
  /** A foreign key points at the table itself: its rows must arrive in one statement. */
  readonly selfReferencing?: boolean;
}

const corrupt = (detail: string): TenancyError =>
  new TenancyError('BACKUP_CORRUPT', { params: { detail } });

/** Loads rows into tables; rows reach the server in order, table after table. */
export interface RowSink {
  /** Queues `rows` for `target`; resolves once they are sent, not once they are stored. */
  insert(target: BulkTable, rows: readonly TextRow[]): Promise<void>;
  /** The same for rows in COPY text (see copy-text.ts). */
  insertCopy(target: BulkTable, text: Buffer): Promise<void>;
  /** Waits until everything sent is stored; a failure is thrown here at the latest. */
  flush(): Promise<void>;
  /** Ends whatever is in flight, ignoring how (before the transaction rolls back). */
  settle(): Promise<void>;
}

/**
 * The sink for `style` on `tx`. With `copy`, `tenant` fills `tenant_id` of every row, since
 * the transaction is exempt from the policies that would otherwise check it.
 */
export function rowSink(tx: Queryable, style: BulkStyle, tenant: string): RowSink {
  if (style === 'copy' && tx.copyFrom !== undefined) return new CopyInsert(tx, tenant);
  return new BulkInsert(tx, style === 'arrays' ? 'arrays' : 'values');
}

async function checkWidth(sink: RowSink, target: BulkTable, rows: readonly TextRow[]):
  Promise<void> {
  const width = target.columns.length;
  for (const row of rows) {
    if (row.length !== width) {
      await sink.settle();
      throw corrupt(`a row of ${target.name} has the wrong width`);
    }
  }
}

/**
 * Bytea arrives as its hex text (`\x0a1b…`); sent as bytes it skips the server's hex parse.
 * Anything that is not clean hex stays text, so the server's own cast judges it.
 */
function byteaValue(value: string): Buffer | string {
  if (!value.startsWith('\\x') || value.length % 2 !== 0) return value;
  const bytes = Buffer.from(value.slice(2), 'hex');
  return bytes.length * 2 === value.length - 2 ? bytes : value;
}

/**
 * Sends rows to tables over one transaction, one statement at a time, building the next
 * statement's parameters while the last one runs. The rows of a table whose foreign key points
 * at itself are held back and sent in one statement once the table ends, since an export may
 * list a child row before its parent and the key is checked at the end of each statement.
 * TODO(backup): such a table is held in memory whole; COPY (the server's usual path) is not.
 *
 * @example
 * const bulk = new BulkInsert(tx, 'values');
 * await bulk.insert({ table: '"tenant_acme"."documents"', name: 'documents', columns }, rows);
 * await bulk.flush();
 * // INSERT INTO "tenant_acme"."documents" ("id", "title", …) VALUES ($1::text, $2::bytea, …), …
 */
export class BulkInsert implements RowSink {
  readonly #tx: Queryable;
  readonly #style: 'values' | 'arrays';
  #pending: Promise<unknown> = Promise.resolve();
  readonly #statements = new Map<string, string>();
  #held: { target: BulkTable; rows: TextRow[] } | undefined;

  constructor(tx: Queryable, style: 'values' | 'arrays') {
    this.#tx = tx;
    this.#style = style;
  }

  async insert(target: BulkTable, rows: readonly TextRow[]): Promise<void> {
    if (rows.length === 0) return;
    await checkWidth(this, target, rows);
    if (this.#held !== undefined && this.#held.target.table !== target.table) {
      await this.#sendHeld();
    }
    const width = target.columns.length;
    if (target.selfReferencing === true && width > 0) {
      this.#held ??= { target, rows: [] };
      for (const row of rows) this.#held.rows.push(row);
      return;
    }
    if (width === 0) {
      await this.#send(`INSERT INTO ${target.table} SELECT FROM generate_series(1, $1::int)`,
        [rows.length]);
      return;
    }
    if (this.#style === 'arrays') {
      await this.#send(this.#arraysStatement(target), columnArrays(rows, width));
      return;
    }
    const per = Math.min(maxValuesRows, Math.floor(maxParameters / width));
    const bytea = target.columns.map((c) => c.type === 'bytea');
    for (let from = 0; from < rows.length; from += per) {
      const slice = rows.slice(from, from + per);
      const params: unknown[] = [];
      for (const row of slice) {
        for (let c = 0; c < width; c += 1) {
          const value = row[c] ?? null;
          params.push(value !== null && bytea[c] === true ? byteaValue(value) : value);
        }
      }
      await this.#send(this.#valuesStatement(target, slice.length), params);
    }
  }

  async insertCopy(target: BulkTable, text: Buffer): Promise<void> {
    await this.insert(target, decodeCopyRows(text, target.columns.length, target.name));
  }

  async flush(): Promise<void> {
    await this.#sendHeld();
    const last = this.#pending;
    this.#pending = Promise.resolve();
    await last;
  }

  async settle(): Promise<void> {
    this.#held = undefined;
    await this.flush().catch(() => undefined);
  }

  async #sendHeld(): Promise<void> {
    const held = this.#held;
    this.#held = undefined;
    if (held === undefined) return;
    await this.#send(this.#arraysStatement(held.target),
      columnArrays(held.rows, held.target.columns.length));
  }

  async #send(sql: string, params: readonly unknown[]): Promise<void> {
    await this.flush();
    const sent = this.#tx.query(sql, params);
    // Observed later by flush(); until then its failure must not count as unhandled.
    sent.catch(() => undefined);
    this.#pending = sent;
  }

  #valuesStatement(target: BulkTable, rows: number): string {
    const key = `${target.table}|v${rows}`;
    let sql = this.#statements.get(key);
    if (sql === undefined) {
      const width = target.columns.length;
      const tuples: string[] = [];
      for (let r = 0; r < rows; r += 1) {
        tuples.push(`(${target.columns.map((c, i) => `$${r * width + i + 1}::${c.type}`)
          .join(', ')})`);
      }
      // The tenant is read once for the statement (an InitPlan), not once per row as the
      // column default would.
      sql = `INSERT INTO ${target.table} (${tenantColumn}, ${names(target.columns)
        }) OVERRIDING SYSTEM VALUE SELECT ${
        currentTenant}, v.* FROM (VALUES ${tuples.join(', ')}) AS v`;
      // Only the common full-size statement is worth keeping.
      if (rows === Math.min(maxValuesRows, Math.floor(maxParameters / width))) {
        this.#statements.set(key, sql);
      }
    }
    return sql;
  }

  #arraysStatement(target: BulkTable): string {
    const key = `${target.table}|a`;
    let sql = this.#statements.get(key);
    if (sql === undefined) {
      const cols = target.columns;
      // OVERRIDING SYSTEM VALUE: identity columns GENERATED ALWAYS take the archive's ids.
      sql = `INSERT INTO ${target.table} (${tenantColumn}, ${names(cols)
        }) OVERRIDING SYSTEM VALUE SELECT ${
        currentTenant}, ${
        cols.map((c, i) => `u.c${i}::${c.type}`).join(', ')} FROM unnest(${
        cols.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS u(${
        cols.map((_, i) => `c${i}`).join(', ')})`;
      this.#statements.set(key, sql);
    }
    return sql;
  }
}

function names(columns: readonly ColumnShape[]): string {
  return columns.map((c) => quoteCatalogName(c.name)).join(', ');
}

function columnArrays(rows: readonly TextRow[], width: number): (string | null)[][] {
  const columns: (string | null)[][] = Array.from({ length: width }, () =>
    new Array<string | null>(rows.length));
  rows.forEach((row, r) => {
    for (let c = 0; c < width; c += 1) (columns[c] as (string | null)[])[r] = row[c] ?? null;
  });
  return columns;
}

/**
 * Streams rows as COPY text, one `COPY … FROM STDIN` per run of rows of one table, with the
 * tenant written into `tenant_id` of each.
 *
 * @example
 * // COPY "tenant_acme"."documents" ("tenant_id", "id", "title", …) FROM STDIN
 * // acme\tdoc-1\t\\x0a1b…\t…\n
 */
export class CopyInsert implements RowSink {
  readonly #tx: Queryable & { copyFrom(sql: string): CopySink };
  readonly #tenant: string;
  #open: { table: string; sink: CopySink } | undefined;

  constructor(tx: Queryable, tenant: string) {
    if (tx.copyFrom === undefined) throw new Error('this driver does not speak COPY');
    this.#tx = tx as Queryable & { copyFrom(sql: string): CopySink };
    this.#tenant = copyField(tenant);
  }

  async insert(target: BulkTable, rows: readonly TextRow[]): Promise<void> {
    if (rows.length === 0) return;
    await checkWidth(this, target, rows);
    await this.insertCopy(target, Buffer.from(encodeCopyRows(rows), 'utf8'));
  }

  async insertCopy(target: BulkTable, text: Buffer): Promise<void> {
    if (text.length === 0) return;
    if (this.#open?.table !== target.table) {
      await this.flush();
      const sink = this.#tx.copyFrom(`COPY ${target.table} (${tenantColumn}${
        target.columns.map((c) => `, ${quoteCatalogName(c.name)}`).join('')}) FROM STDIN`);
      this.#open = { table: target.table, sink };
    }
    await this.#open.sink.write(prefixCopyRows(text, this.#tenant));
  }

  async flush(): Promise<void> {
    const open = this.#open;
    this.#open = undefined;
    if (open !== undefined) await open.sink.end();
  }

  async settle(): Promise<void> {
    const open = this.#open;
    this.#open = undefined;
    if (open !== undefined) await open.sink.abort();
  }
}
