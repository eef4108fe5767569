// Which table columns hold envelopes: the built-in ones and those a library user declares.
import { TenancyError } from '../errors.ts';

/**
 * A table whose `columns` hold envelopes (bytea), each bound to the row's `idColumn`.
 *
 * @example
 * { table: 'notes', idColumn: 'id', columns: ['body'] }
 */
export interface EncryptedField {
  readonly table: string;
  readonly idColumn: string;
  readonly columns: readonly string[];
}

/** The built-in model's encrypted columns; `external_ref` may be NULL. */
export const builtinEncryptedFields: readonly EncryptedField[] = [
  { table: 'conversations', idColumn: 'id', columns: ['title'] },
  { table: 'messages', idColumn: 'id', columns: ['content'] },
  { table: 'documents', idColumn: 'id', columns: ['title', 'text', 'external_ref'] },
];

const name = /^[a-z_][a-z0-9_]{0,62}$/;

function invalid(detail: string): TenancyError {
  return new TenancyError('CONFIG_INVALID', { params: { detail: `encryptedFields: ${detail}` } });
}

/** The built-in fields plus the declared ones, checked once when Tenancy opens. */
export class EncryptedFields {
  readonly all: readonly EncryptedField[];
  readonly #columns = new Set<string>();

  constructor(declared: readonly EncryptedField[] = []) {
    const tables = new Set(builtinEncryptedFields.map((f) => f.table));
    for (const field of declared) {
      const parts = [field.table, field.idColumn, ...field.columns];
      if (!parts.every((part) => name.test(part))) {
        throw invalid('table and column names are lowercase SQL identifiers');
      }
      if (field.columns.length === 0) throw invalid(`${field.table} names no columns`);
      if (field.columns.includes(field.idColumn)) {
        throw invalid(`${field.table}: the id column cannot be encrypted`);
      }
      if (tables.has(field.table)) throw invalid(`${field.table} is declared twice or built in`);
      tables.add(field.table);
    }
    this.all = [...builtinEncryptedFields, ...declared.map((f) => ({
      table: f.table, idColumn: f.idColumn, columns: [...f.columns],
    }))];
    for (const field of this.all) {
      for (const column of field.columns) this.#columns.add(`${field.table}.${column}`);
    }
  }

  has(table: string, column: string): boolean {
    return this.#columns.has(`${table}.${column}`);
  }

  /** Throws FIELD_NOT_ENCRYPTED for a column nobody declared. */
  check(table: string, column: string): void {
    if (!this.has(table, column)) {
      throw new TenancyError('FIELD_NOT_ENCRYPTED', {
        params: { detail: `${table}.${column}`.slice(0, 130) },
      });
    }
  }
}
