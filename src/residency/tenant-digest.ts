// Digests one tenant's rows as plaintext, so a copy sealed under other keys compares equal to
// its source: the check a region move makes before it switches the catalog.
import { createHash } from 'node:crypto';
import type { EncryptedField } from '../crypto/encrypted-fields.ts';
import type { TenantCipher } from '../crypto/tenant-cipher.ts';
import type { Queryable } from '../storage/driver.ts';
import { bindTenant, type TenantStorage } from '../storage/placements/placement.ts';
import { quoteCatalogName, quoteIdent } from '../storage/sql.ts';
import type { TenantId } from '../tenant-id.ts';

/** Rows and a SHA-256 of one table's content as plaintext, in primary-key order. */
export interface TableDigest {
  table: string;
  rows: number;
  sha256: string;
}

type Row = Record<string, unknown>;

const batchSize = 500;

/** The tenant's tables in its schema, in creation order (parents before children). */
async function tablesOf(tx: Queryable, schema: string): Promise<string[]> {
  const found = await tx.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.oid`, [schema]);
  return found.rows.map((r) => r.name);
}

async function primaryKey(tx: Queryable, table: string): Promise<string[]> {
  const found = await tx.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_index i
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])
      WHERE i.indrelid = $1::regclass AND i.indisprimary
      ORDER BY array_position(i.indkey::int2[], a.attnum)`, [table]);
  return found.rows.map((r) => r.name);
}

/**
 * Opens an admin transaction's view of the tenant: tenant bound (so forced row-level security
 * lets the owner through to this tenant only) and times printed in UTC on every server.
 */
async function enter(tx: Queryable, tenant: TenantId): Promise<void> {
  await bindTenant(tx, tenant);
  await tx.query("SELECT set_config('TimeZone', 'UTC', true)");
}

/** Streams a table's rows of the bound tenant as JSON objects, `batchSize` at a time. */
async function* rowsOf(tx: Queryable, schema: string, table: string, cursor: string):
  AsyncGenerator<Row[]> {
  const name = `${quoteIdent(schema)}.${quoteCatalogName(table)}`;
  const order = (await primaryKey(tx, name)).map(quoteCatalogName).join(', ') || 'ctid';
  await tx.query(`DECLARE ${quoteIdent(cursor)} NO SCROLL CURSOR FOR
    SELECT row_to_json(t)::text AS j FROM ${name} t
     WHERE tenant_id = current_setting('tenancy.tenant_id') ORDER BY ${order}`);
  try {
    for (;;) {
      const page = await tx.query<{ j: string }>(
        `FETCH ${batchSize} FROM ${quoteIdent(cursor)}`);
      if (page.rows.length === 0) return;
      yield page.rows.map((r) => JSON.parse(r.j) as Row);
      if (page.rows.length < batchSize) return;
    }
  } finally {
    await tx.query(`CLOSE ${quoteIdent(cursor)}`);
  }
}

const fromHex = (value: unknown): Buffer | null =>
  typeof value === 'string' && value.startsWith('\\x') ? Buffer.from(value.slice(2), 'hex') : null;

/** The encrypted columns of a table, opened to plaintext (null stays null). */
function openRow(row: Row, field: EncryptedField | undefined, table: string,
  cipher: TenantCipher): Map<string, Buffer | null> {
  const plain = new Map<string, Buffer | null>();
  if (field === undefined) return plain;
  const rowId = String(row[field.idColumn]);
  for (const column of field.columns) {
    const envelope = fromHex(row[column]);
    plain.set(column, envelope === null ? null : cipher.open(table, column, rowId, envelope));
  }
  return plain;
}

/** One row as plaintext, keys sorted; blind indexes (derived from a plaintext) left out. */
function canonical(row: Row, plain: ReadonlyMap<string, Buffer | null>): string {
  const out: Row = {};
  for (const key of Object.keys(row).sort()) {
    if (plain.has(key)) {
      out[key] = plain.get(key)?.toString('base64') ?? null;
    } else if (!(key.endsWith('_index') && plain.has(key.slice(0, -'_index'.length)))) {
      out[key] = row[key];
    }
  }
  return JSON.stringify(out);
}

class Digest {
  readonly #hash = createHash('sha256');
  rows = 0;
  add(text: string): void {
    this.#hash.update(text).update('\n');
    this.rows += 1;
  }
  done(table: string): TableDigest {
    return { table, rows: this.rows, sha256: this.#hash.digest('hex') };
  }
}

/** Digests of the tenant's rows in `storage`, opened with `cipher`. */
export async function digestTenant(tenantId: TenantId, storage: TenantStorage,
  fields: readonly EncryptedField[], cipher: TenantCipher): Promise<TableDigest[]> {
  return storage.database.transaction('admin', async (tx) => {
    await enter(tx, tenantId);
    const digests: TableDigest[] = [];
    for (const table of await tablesOf(tx, storage.schema)) {
      const field = fields.find((f) => f.table === table);
      const digest = new Digest();
      for await (const rows of rowsOf(tx, storage.schema, table, 'tenancy_digest')) {
        for (const row of rows) digest.add(canonical(row, openRow(row, field, table, cipher)));
      }
      digests.push(digest.done(table));
    }
    return digests;
  });
}
