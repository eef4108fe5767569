// Which data key versions a tenant's encrypted values use, read from envelope headers in SQL.
import { keyVersionOffset } from '../crypto/envelope.ts';
import type { EncryptedField } from '../crypto/encrypted-fields.ts';
import type { TenantSession } from '../storage/session.ts';
import { quoteIdent } from '../storage/sql.ts';

// substring() counts from 1.
const versionBytes = (column: string): string =>
  `substring(${quoteIdent(column)} from ${keyVersionOffset + 1} for 4)`;

/**
 * Values per key version over every encrypted column, in one tenant session. Only the 4 version
 * bytes of each header leave the database; nothing is decrypted.
 *
 * @example
 * await valuesByVersion(session, fields) // Map { 1 => 120, 2 => 40 }
 * // SELECT v, count(*) FROM (SELECT substring("title" from 20 for 4) AS v FROM … UNION ALL …)
 */
export async function valuesByVersion(session: TenantSession,
  fields: readonly EncryptedField[]): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  for (const field of fields) {
    const table = session.table(field.table);
    const parts = field.columns.map((column) =>
      `SELECT ${versionBytes(column)} AS v FROM ${table} WHERE ${quoteIdent(column)} IS NOT NULL`);
    const found = await session.query<{ v: Uint8Array; n: string | number }>(
      `SELECT v, count(*) AS n FROM (${parts.join(' UNION ALL ')}) AS versions GROUP BY v`,
    );
    for (const row of found.rows) {
      const version = Buffer.from(row.v).readUInt32BE(0);
      counts.set(version, (counts.get(version) ?? 0) + Number(row.n));
    }
  }
  return counts;
}

/** Rows of every encrypted table, for the progress total of a re-encryption. */
export async function rowsToVisit(session: TenantSession,
  fields: readonly EncryptedField[]): Promise<number> {
  let total = 0;
  for (const field of fields) {
    const found = await session.query<{ n: string | number }>(
      `SELECT count(*) AS n FROM ${session.table(field.table)}`,
    );
    total += Number(found.rows[0]?.n ?? 0);
  }
  return total;
}
