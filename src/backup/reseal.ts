// Re-encryption of rows moving between tenants: envelopes are bound to their tenant (AAD), so a
// clone opens each one with the source's keys and seals it again with the target's.
import type { EncryptedField } from '../crypto/encrypted-fields.ts';
import type { TenantCipher } from '../crypto/tenant-cipher.ts';
import { TenancyError } from '../errors.ts';
import type { RowTransform } from './tenant-import.ts';
import type { TextRow } from './tenant-export.ts';

/** A blind index sits beside its column as `<column>_index` (documents.external_ref_index). */
const indexSuffix = '_index';

function bytea(text: string): Buffer {
  if (!text.startsWith('\\x')) {
    throw new TenancyError('BACKUP_CORRUPT', { params: { detail: 'an envelope is not hex' } });
  }
  return Buffer.from(text.slice(2), 'hex');
}

function byteaText(bytes: Uint8Array): string {
  return `\\x${Buffer.from(bytes).toString('hex')}`;
}

/**
 * A transform that opens every declared encrypted column with `from` and seals it with `to`
 * at the same table, column and row id, and recomputes blind indexes from the plaintext.
 * Tables with no declared field pass through untouched.
 *
 * @example
 * importTenant(storage, 'acme-copy', parts,
 *   { isolation: 'row', transform: resealRows(fields, acmeCipher, copyCipher) })
 */
export function resealRows(fields: readonly EncryptedField[], from: TenantCipher,
  to: TenantCipher): RowTransform {
  return (table, columns) => {
    const field = fields.find((f) => f.table === table);
    if (field === undefined) return undefined;
    const position = new Map(columns.map((c, i) => [c.name, i]));
    const id = position.get(field.idColumn);
    const sealed = field.columns.flatMap((column) => {
      const at = position.get(column);
      if (at === undefined) return [];
      const index = position.get(`${column}${indexSuffix}`);
      return [{ column, at, index }];
    });
    if (sealed.length === 0) return undefined;
    if (id === undefined) {
      throw new TenancyError('BACKUP_INCOMPATIBLE', {
        params: { detail: `${table} has encrypted columns but no ${field.idColumn} column` },
      });
    }
    return (row: TextRow): TextRow => {
      const rowId = row[id];
      if (rowId === null || rowId === undefined) return row;
      const out = [...row];
      for (const { column, at, index } of sealed) {
        const value = row[at];
        if (value === null || value === undefined) continue;
        const plain = from.open(table, column, rowId, bytea(value));
        try {
          out[at] = byteaText(to.seal(table, column, rowId, plain));
          if (index !== undefined && row[index] !== null) {
            out[index] = byteaText(to.blindIndex(table, column, plain.toString('utf8')));
          }
        } finally {
          plain.fill(0);
        }
      }
      return out;
    };
  };
}
