// SECURITY DEFINER functions Tenancy defines on purpose for the runtime role to call.

/** Stands for any tenant layout schema of the database (`tenancy_rows`, `tenant_…`). */
export const layoutPlaceholder = '<layout>';

/**
 * Each entry is `schema.name(identity arguments)` as pg_get_function_identity_arguments prints
 * it, with `<layout>` for a function every layout has. The doctor accepts exactly these, and
 * only while they pin their search_path, since a definer that resolves names through the
 * caller's path runs whatever the caller put first on it.
 */
export const intendedDefiners: readonly string[] = [
  // Builds the HNSW index of a new embedding dimension, which needs the table owner: a tenant
  // session may ask for the index, never for anything else (src/stores/vector-migration.ts).
  `${layoutPlaceholder}.ensure_embedding_index(dim integer, metric text)`,
];

/** Whether `schema.signature` is one of the intended definers in a database with `layouts`. */
export function isIntendedDefiner(schema: string, signature: string,
  layouts: readonly string[]): boolean {
  return intendedDefiners.some((entry) => entry === `${schema}.${signature}` ||
    (layouts.includes(schema) && entry === `${layoutPlaceholder}.${signature}`));
}
