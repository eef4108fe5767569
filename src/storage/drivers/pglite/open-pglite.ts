// Opens one PGlite data folder with the extensions Tenancy uses loaded (pgvector).
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';

/**
 * PGlite loads extension code only when an instance is created with it, so every folder opens
 * here: a folder whose tables were indexed with pgvector must have it again on the next open.
 */
export function openPglite(path: string): Promise<PGlite> {
  return PGlite.create(path, { extensions: { vector } });
}
