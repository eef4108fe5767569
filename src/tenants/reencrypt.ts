// Moves a tenant's encrypted values to the active data key version, a batch at a time, resumably.
import type { EncryptedField } from '../crypto/encrypted-fields.ts';
import { envelopeVersion } from '../crypto/envelope.ts';
import type { TenantCipher } from '../crypto/tenant-cipher.ts';
import type { TenantSession } from '../storage/session.ts';
import { quoteIdent } from '../storage/sql.ts';
import type { Tenant } from './catalog.ts';
import { rowsToVisit } from './key-usage.ts';
import type { Checkpoint, KeyringStore } from './keyring-store.ts';

export interface ReencryptProgress {
  tenantId: string;
  targetVersion: number;
  /** Rows visited so far, of `total` counted when the run started. */
  done: number;
  total: number;
  /** Values sealed again under the target version. */
  rewritten: number;
  /** The table being visited; null once finished. */
  table: string | null;
  finished: boolean;
  /** True when this run picked up a checkpoint left by an earlier one. */
  resumed: boolean;
}

export interface ReencryptJob {
  tenant: Tenant;
  fields: readonly EncryptedField[];
  cipher: TenantCipher;
  store: KeyringStore;
  session: <T>(fn: (session: TenantSession) => Promise<T>) => Promise<T>;
  batchSize?: number;
  onProgress?: (progress: ReencryptProgress) => void;
  signal?: AbortSignal;
}

type Row = Record<string, unknown> & { row_id: string };

/**
 * Visits every row of every encrypted table in id order and seals values of older versions
 * again under the active one, one transaction per batch (rows locked, so a concurrent writer
 * waits for the batch). After each batch the checkpoint is saved in the keyring tables; a run
 * that stops (crash, Ctrl-C, signal) resumes there. Values already at the target are skipped,
 * so a batch done twice changes nothing.
 */
export async function reencrypt(job: ReencryptJob): Promise<ReencryptProgress> {
  const { tenant, cipher, store } = job;
  const target = cipher.activeVersion;
  const batchSize = job.batchSize ?? 200;
  const saved = await store.transaction((tx) => tx.checkpoint(tenant.id));
  const resumed = saved !== undefined && saved.targetVersion === target &&
    saved.finishedAt === null;
  let point: Pick<Checkpoint, 'table' | 'afterId' | 'done' | 'rewritten' | 'total'>;
  if (resumed) {
    point = saved;
  } else {
    const total = await job.session((s) => rowsToVisit(s, job.fields));
    await store.transaction((tx) => tx.startCheckpoint(tenant.id, target, total));
    point = { table: null, afterId: null, done: 0, rewritten: 0, total };
  }
  const progress = (finished: boolean): ReencryptProgress => ({
    tenantId: tenant.id, targetVersion: target, done: point.done, total: point.total,
    rewritten: point.rewritten, table: finished ? null : point.table, finished, resumed,
  });
  // A checkpoint names the table it stopped in; tables before it in the list are done.
  let start = point.table === null ? 0 : job.fields.findIndex((f) => f.table === point.table);
  if (start < 0) [start, point.afterId] = [0, null];
  for (const field of job.fields.slice(start)) {
    if (point.table !== field.table) [point.table, point.afterId] = [field.table, null];
    for (;;) {
      job.signal?.throwIfAborted();
      const batch = await job.session((s) =>
        reencryptBatch(s, cipher, field, point.afterId, batchSize));
      if (batch.rows === 0) break;
      point.afterId = batch.lastId;
      point.done += batch.rows;
      point.rewritten += batch.rewritten;
      point.total = Math.max(point.total, point.done);
      await store.transaction((tx) => tx.saveCheckpoint(tenant.id, { ...point, finished: false }));
      job.onProgress?.(progress(false));
      if (batch.rows < batchSize) break;
    }
  }
  await store.transaction((tx) => tx.saveCheckpoint(tenant.id, {
    ...point, table: null, afterId: null, finished: true,
  }));
  const last = progress(true);
  job.onProgress?.(last);
  return last;
}

async function reencryptBatch(session: TenantSession, cipher: TenantCipher,
  field: EncryptedField, afterId: string | null, limit: number):
  Promise<{ rows: number; rewritten: number; lastId: string | null }> {
  const table = session.table(field.table);
  const id = quoteIdent(field.idColumn);
  const columns = field.columns.map(quoteIdent).join(', ');
  // $2 takes the id column's own type, so text, integer and uuid ids all order as stored.
  const found = await session.query<Row>(
    `SELECT ${id}::text AS row_id, ${columns} FROM ${table}
      WHERE $1::boolean OR ${id} > $2 ORDER BY ${id} LIMIT $3 FOR UPDATE`,
    [afterId === null, afterId, limit],
  );
  let rewritten = 0;
  for (const row of found.rows) {
    const changed: [string, Buffer][] = [];
    for (const column of field.columns) {
      const value = row[column];
      if (!(value instanceof Uint8Array)) continue;
      if (envelopeVersion(value) === cipher.activeVersion) continue;
      const place = cipher.field(field.table, column);
      const plain = place.open(row.row_id, value);
      changed.push([column, place.seal(row.row_id, plain)]);
      plain.fill(0);
    }
    if (changed.length === 0) continue;
    const sets = changed.map(([column], i) => `${quoteIdent(column)} = $${i + 2}`).join(', ');
    await session.query(`UPDATE ${table} SET ${sets} WHERE ${id} = $1`,
      [row.row_id, ...changed.map(([, envelope]) => envelope)]);
    rewritten += changed.length;
  }
  return { rows: found.rows.length, rewritten, lastId: found.rows.at(-1)?.row_id ?? afterId };
}
