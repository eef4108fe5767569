// The one place identifiers are built for SQL: everything else passes values as parameters.

const safeIdentifier = /^[a-z_][a-z0-9_-]{0,62}$/;

/**
 * Quotes a Postgres identifier: `quoteIdent('tenant_acme-eu')` → `"tenant_acme-eu"`.
 * Only lowercase names made of letters, digits, `_` and `-` are accepted, so a name that
 * slipped past validation fails here instead of reaching SQL.
 */
export function quoteIdent(name: string): string {
  if (!safeIdentifier.test(name)) {
    throw new Error('refused to quote an identifier outside [a-z0-9_-]');
  }
  return `"${name}"`;
}

/** `qualified('tenant_acme', 'conversations')` → `"tenant_acme"."conversations"`. */
export function qualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

/**
 * Quotes a name read back from the server's catalog (a column of a user's table may be
 * `"createdBy"` or hold a space): doubled quotes inside, any character but NUL. Names that come
 * from callers go through `quoteIdent` instead.
 *
 * @example
 * quoteCatalogName('createdBy') // '"createdBy"'
 * quoteCatalogName('say "hi"')  // '"say ""hi"""'
 */
export function quoteCatalogName(name: string): string {
  if (name.length === 0 || name.includes('\0')) {
    throw new Error('refused to quote an empty name or one holding NUL');
  }
  return `"${name.replaceAll('"', '""')}"`;
}
