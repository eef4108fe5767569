// Copies one tenant's rows from its storage in one region to its storage in another, sealing
// every encrypted value again under the target's keys, and digests both sides to compare.
import { createHash } from 'node:crypto';
import type { EncryptedField } from '../crypto/encrypted-fields.ts';
import type { TenantCipher } from '../crypto/tenant-cipher.ts';
import type { Queryable } from '../storage/driver.ts';
import { bindTenant, type TenantStorage } from '../storage/placements/placement.ts';
import { quoteIdent } from '../storage/sql.ts';
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
  const name = `${quoteIdent(schema)}.${quoteIdent(table)}`;
  const order = (await primaryKey(tx, name)).map(quoteIdent).join(', ') || 'ctid';
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
const toHex = (value: Buffer): string => `\\x${value.toString('hex')}`;

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

export interface CopyJob {
  tenantId: TenantId;
  source: TenantStorage;
  target: TenantStorage;
  fields: readonly EncryptedField[];
  from: TenantCipher;
  to: TenantCipher;
}

/**
 * Copies every row of the tenant in one transaction per side: the target commits all of it or
 * nothing. Encrypted values are opened with the source's keys and sealed with the target's;
 * blind indexes are computed again. Returns the digests of what was read.
 */
export async function copyTenant(job: CopyJob): Promise<TableDigest[]> {
  return job.source.database.transaction('admin', async (src) => {
    await enter(src, job.tenantId);
    return job.target.database.transaction('admin', async (dst) => {
      await enter(dst, job.tenantId);
      const digests: TableDigest[] = [];
      for (const table of await tablesOf(src, job.source.schema)) {
        const field = job.fields.find((f) => f.table === table);
        const digest = new Digest();
        const into = `${quoteIdent(job.target.schema)}.${quoteIdent(table)}`;
        for await (const rows of rowsOf(src, job.source.schema, table, 'tenancy_move')) {
          const sealed = rows.map((row) => {
            const plain = openRow(row, field, table, job.from);
            digest.add(canonical(row, plain));
            return reseal(row, plain, field, table, job.to);
          });
          await dst.query(`INSERT INTO ${into} SELECT * FROM json_populate_recordset(` +
            `NULL::${into}, $1::json)`, [JSON.stringify(sealed)]);
        }
        digests.push(digest.done(table));
      }
      return digests;
    });
  });
}

function reseal(row: Row, plain: ReadonlyMap<string, Buffer | null>,
  field: EncryptedField | undefined, table: string, cipher: TenantCipher): Row {
  if (field === undefined) return row;
  const out: Row = { ...row };
  const rowId = String(row[field.idColumn]);
  for (const [column, value] of plain) {
    out[column] = value === null ? null : toHex(cipher.seal(table, column, rowId, value));
    const index = `${column}_index`;
    if (index in row) {
      out[index] = value === null ? null
        : toHex(cipher.blindIndex(table, column, value.toString('utf8')));
    }
  }
  return out;
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
