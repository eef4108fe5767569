// Replaces one tenant's rows with exported ones, in one transaction bound to that tenant.
import type { Isolation } from '../config/schema.ts';
import { TenancyError } from '../errors.ts';
import type { Queryable } from '../storage/driver.ts';
import { toTenancyError } from '../storage/database-error.ts';
import { bindTenant, type TenantStorage } from '../storage/placements/placement.ts';
import { holdTenant } from '../storage/tenant-fence.ts';
import type { TenantId } from '../tenant-id.ts';
import { rowSink, type BulkStyle, type BulkTable } from './bulk-insert.ts';
import { decodeCopyRows } from './copy-text.ts';
import { tableDigest, type ExportedTable, type ExportPart, type TextRow } from './tenant-export.ts';
import {
  advanceSequences, qualifiedTable, scanOwnRowsOnly, tenantColumn, tenantTables, usePortableText,
  type ColumnShape, type TableShape,
} from './tenant-tables.ts';

/** Rewrites the rows of one table on their way in (re-encryption under another tenant's keys). */
export type RowTransform =
  (table: string, columns: readonly ColumnShape[]) => ((row: TextRow) => TextRow) | undefined;

export interface ImportOptions {
  /** The target's isolation: `row` tables are shared, so they are never locked whole. */
  isolation: Isolation;
  transform?: RowTransform | undefined;
  /** Also compare each table's checksum with the exported one (counts are always compared). */
  verifyDigests?: boolean;
  /** Rows loaded so far, after each batch. */
  onProgress?: (rows: number) => void;
  signal?: AbortSignal | undefined;
  /**
   * Wait out the tenant's sessions in flight first, and hold new ones until the commit (a
   * restore over a live tenant), so no session straddles the replacement.
   */
  exclusive?: boolean;
}

export interface ImportResult {
  tables: { name: string; rows: number }[];
  rows: number;
}

interface TablePlan {
  readonly source: ExportedTable;
  readonly target: BulkTable;
  readonly transform: ((row: TextRow) => TextRow) | undefined;
  loaded: number;
}

const incompatible = (detail: string): TenancyError =>
  new TenancyError('BACKUP_INCOMPATIBLE', { params: { detail } });
const corrupt = (detail: string): TenancyError =>
  new TenancyError('BACKUP_CORRUPT', { params: { detail } });

/**
 * Deletes every row of the tenant and inserts the exported rows, in one transaction as the
 * runtime role bound to the tenant: row-level security confines both the delete and the
 * inserts to this tenant, and `tenant_id` comes from the context, so rows exported from
 * another tenant land here (a clone). Readers see the old rows until the commit and the new
 * ones after, never a mix; a failure or a killed process leaves the old rows as they were.
 *
 * In `schema` and `database` isolation the tenant's own tables are locked against writes (reads
 * go on); shared `row` tables cannot be, so rows another session of the tenant committed
 * meanwhile are swept before the commit instead. Row counts (and checksums, if asked) are
 * checked against the export before committing.
 *
 * @example
 * await importTenant(storage, 'acme', exportTenant(other, 'acme'), { isolation: 'schema' })
 * // BEGIN; LOCK TABLE … IN EXCLUSIVE MODE; DELETE FROM … WHERE tenant_id = $1;
 * // INSERT INTO … (…) VALUES ($1::text, $2::bytea, …), …; …; COMMIT
 */
export async function importTenant(storage: TenantStorage, tenant: TenantId,
  parts: AsyncIterable<ExportPart>, options: ImportOptions): Promise<ImportResult> {
  const iterator = parts[Symbol.asyncIterator]();
  try {
    const style = await loadStyle(storage);
    // COPY cannot pass row-level security, so it runs as an admin exempt from it; every
    // statement below names the tenant itself, and rows get `tenant_id` from the loader.
    const role = style === 'copy' ? 'admin' : 'runtime';
    const result = await storage.database.transaction(role, async (tx) => {
      await bindTenant(tx, tenant);
      if (options.exclusive === true) await holdTenant(tx, tenant);
      await usePortableText(tx);
      await scanOwnRowsOnly(tx, storage);
      // Keys declared DEFERRABLE (a cycle between a user's tables, say) are checked at commit.
      await tx.query('SET CONSTRAINTS ALL DEFERRED');
      const first = await iterator.next();
      if (first.done === true || first.value.kind !== 'tables') {
        throw corrupt('the table list does not come first');
      }
      const targets = await tenantTables(tx, storage.schema);
      const plans = planTables(storage.schema, targets, first.value.tables, options.transform);
      const tables = targets.map((t) => qualifiedTable(storage.schema, t.name));
      if (options.isolation !== 'row' && tables.length > 0) {
        await tx.query(`LOCK TABLE ${tables.join(', ')} IN EXCLUSIVE MODE`);
      }
      // The tenant's own tables are emptied whole, children first, so the foreign-key
      // triggers that fire per deleted row would find nothing to do: a superuser skips them.
      const quiet = style === 'copy' && options.isolation !== 'row' &&
        await deletesQuietly(tx, storage.schema);
      if (quiet) await tx.query("SELECT set_config('session_replication_role', 'replica', true)");
      for (const table of [...tables].reverse()) {
        await tx.query(`DELETE FROM ${table} WHERE ${tenantColumn} = $1`, [tenant]);
      }
      if (quiet) await tx.query("SELECT set_config('session_replication_role', 'origin', true)");
      let total = 0;
      const bulk = rowSink(tx, style, tenant);
      try {
        for (;;) {
          options.signal?.throwIfAborted();
          const next = await iterator.next();
          if (next.done === true) break;
          const part = next.value;
          if (part.kind === 'tables') throw corrupt('a second table list');
          const plan = plans.get(part.table);
          if (plan === undefined) throw corrupt(`rows of a table not listed: ${part.table}`);
          let loaded: number;
          if (part.kind === 'copy' && plan.transform === undefined) {
            await bulk.insertCopy(plan.target, part.text);
            loaded = part.rows;
          } else {
            const source = part.kind === 'copy'
              ? decodeCopyRows(part.text, plan.source.columns.length, part.table) : part.rows;
            const rows = plan.transform === undefined ? source : source.map(plan.transform);
            await bulk.insert(plan.target, rows);
            loaded = rows.length;
          }
          plan.loaded += loaded;
          total += loaded;
          options.onProgress?.(total);
        }
        await bulk.flush();
      } finally {
        // A statement still in flight finishes before the transaction ends either way.
        await bulk.settle();
      }
      if (options.isolation === 'row') {
        // Rows the tenant's own sessions committed while this ran would survive the delete
        // above; only rows written by this transaction may stay.
        for (const table of [...tables].reverse()) {
          await tx.query(`DELETE FROM ${table} WHERE ${tenantColumn} = $1
            AND xmin <> pg_current_xact_id()::xid`, [tenant]);
        }
      }
      await verifyLoaded(tx, storage.schema, tenant, targets, plans,
        options.verifyDigests === true && options.transform === undefined);
      return {
        tables: [...plans.values()].map((p) => ({ name: p.source.name, rows: p.loaded })),
        rows: total,
      };
    }, { signal: options.signal });
    // Sequences are not transactional and the runtime role may not move them: after the commit.
    await storage.database.transaction('admin', async (tx) => {
      await bindTenant(tx, tenant);
      await advanceSequences(tx, storage.schema, tenant);
    });
    return result;
  } catch (err) {
    // The server's own error may quote a failing row; callers get a code, the cause stays.
    throw toTenancyError(err, tenant);
  } finally {
    await iterator.return?.();
  }
}

function planTables(schema: string, targets: readonly TableShape[],
  sources: readonly ExportedTable[], transform: RowTransform | undefined):
  Map<string, TablePlan> {
  const byName = new Map(targets.map((t) => [t.name, t]));
  const plans = new Map<string, TablePlan>();
  for (const source of sources) {
    const target = byName.get(source.name);
    if (target === undefined) throw incompatible(`no table ${source.name} here`);
    const types = new Map(target.columns.map((c) => [c.name, c.type]));
    const columns = source.columns.map((column) => {
      const type = types.get(column.name);
      if (type === undefined) throw incompatible(`no column ${source.name}.${column.name} here`);
      return { name: column.name, type };
    });
    plans.set(source.name, {
      source,
      target: {
        table: qualifiedTable(schema, source.name), name: source.name, columns,
        selfReferencing: target.selfReferencing === true,
      },
      transform: transform?.(source.name, source.columns), loaded: 0,
    });
  }
  return plans;
}

/**
 * True when the tenant's rows can be deleted without firing triggers: the session is a
 * superuser (only one may set `session_replication_role`) and no table outside the tenant's
 * own holds a foreign key into them, so no cascade is skipped that would reach anything else.
 * Triggers of users' own tables do not fire either for the rows a restore replaces.
 */
async function deletesQuietly(tx: Queryable, schema: string): Promise<boolean> {
  const found = await tx.query<{ quiet: boolean }>(
    `SELECT current_setting('is_superuser') = 'on' AND NOT EXISTS (
       SELECT 1 FROM pg_constraint k
         JOIN pg_class p ON p.oid = k.confrelid
         JOIN pg_class c ON c.oid = k.conrelid
         JOIN pg_namespace n ON n.oid = p.relnamespace
        WHERE k.contype = 'f' AND n.nspname = $1 AND c.relnamespace <> p.relnamespace) AS quiet`,
    [schema]);
  return found.rows[0]?.quiet === true;
}

async function loadStyle(storage: TenantStorage): Promise<BulkStyle> {
  const db = storage.database;
  if (db.adminCopies !== undefined && await db.adminCopies()) return 'copy';
  return db.bulkInsert ?? 'arrays';
}

async function verifyLoaded(tx: Queryable, schema: string, tenant: TenantId,
  targets: readonly TableShape[], plans: ReadonlyMap<string, TablePlan>, digests: boolean):
  Promise<void> {
  for (const target of targets) {
    const plan = plans.get(target.name);
    const table = qualifiedTable(schema, target.name);
    const expected = plan?.source.rows ?? 0;
    if (plan !== undefined && plan.loaded !== expected) {
      throw corrupt(`${target.name}: ${plan.loaded} rows arrived, ${expected} expected`);
    }
    if (plan !== undefined && digests && plan.source.digest !== undefined) {
      const found = await tableDigest(tx, table, plan.source.columns, tenant);
      if (found.rows !== expected || found.digest !== plan.source.digest) {
        throw corrupt(`${target.name}: the rows loaded do not match the checksum`);
      }
      continue;
    }
    const found = await tx.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${table} WHERE ${tenantColumn} = $1`, [tenant]);
    const rows = Number(found.rows[0]?.n ?? 0);
    if (rows !== expected) {
      throw corrupt(`${target.name}: ${rows} rows after loading, ${expected} expected`);
    }
  }
}
