// `scope.crypto`: seal and open values of the declared encrypted fields in a tenant session.
import type { EncryptedFields } from './encrypted-fields.ts';
import type { TenantCipher } from './tenant-cipher.ts';

/**
 * A row id as the envelope binds it: numbers and bigints by their decimal text. Re-encryption
 * rebuilds it from the row as `id::text`, so give it in that form (a uuid in lower case).
 */
export type RowId = string | number | bigint;

/**
 * Encryption for a library user's own columns, bound to the session's tenant. Only declared
 * fields are served, so a typo cannot seal a value under a place nothing will re-encrypt.
 *
 * @example
 * const body = scope.crypto.seal('notes', 'body', noteId, 'call Alice');
 * await scope.session.query(`INSERT INTO ${scope.session.table('notes')} (id, body)
 *   VALUES ($1, $2)`, [noteId, body]);
 */
export class DeclaredCrypto {
  constructor(private readonly cipher: TenantCipher, private readonly fields: EncryptedFields) {}

  /** The envelope of `value` for one column of one row; store it in a bytea column. */
  seal(table: string, column: string, rowId: RowId, value: string | Uint8Array): Buffer {
    this.fields.check(table, column);
    return this.cipher.seal(table, column, String(rowId), value);
  }

  /** The text an envelope holds; DECRYPT_FAILED if it was sealed for another place. */
  open(table: string, column: string, rowId: RowId, envelope: Uint8Array): string {
    return this.openBytes(table, column, rowId, envelope).toString('utf8');
  }

  openBytes(table: string, column: string, rowId: RowId, envelope: Uint8Array): Buffer {
    this.fields.check(table, column);
    return this.cipher.open(table, column, String(rowId), envelope);
  }

  /** An equality-searchable HMAC of `value` under the tenant's index key. */
  blindIndex(table: string, column: string, value: string): Buffer {
    this.fields.check(table, column);
    return this.cipher.blindIndex(table, column, value);
  }
}
