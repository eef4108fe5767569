// Public entry point of the library.
export { Tenancy } from './tenancy.ts';
export { TenantOperations, ApiKeyOperations } from './tenant-operations.ts';
export type { TenantScope, OpenOptions } from './tenancy.ts';
export type { CreatedTenant } from './tenant-operations.ts';
export { TenancyError, errorCatalogue, isTenancyError } from './errors.ts';
export type { ErrorCode } from './errors.ts';
export { loadConfig, parseConfig } from './config/load.ts';
export type { ConfigInput, TenancyConfig, RegionConfig, Isolation } from './config/schema.ts';
export { parseTenantId } from './tenant-id.ts';
export type { TenantId } from './tenant-id.ts';
export type { Tenant, TenantStatus } from './tenants/catalog.ts';
export type { Migration, MigrationContext } from './storage/migrations.ts';
export { builtinMigrations } from './stores/model-migrations.ts';
export type { TenantSession } from './storage/session.ts';
export type {
  Conversation, ConversationWithMessages, Message, Page,
} from './stores/conversations.ts';
export type { TenantDocument, DocumentSummary } from './stores/documents.ts';
export type { LogEvent, LogHook } from './log.ts';
export type {
  CheckReport, DoctorReport, Finding, InspectedDatabase,
} from './access/doctor/types.ts';
export { DocumentVectors } from './stores/document-vectors.ts';
export type { EmbeddingSettings, SearchHit } from './stores/document-vectors.ts';
export type {
  BulkDocumentsInput, EmbeddedDocumentInput, Metric, SearchInput,
} from './stores/vector-inputs.ts';
export { localEmbedding } from './embeddings/hashed-ngrams.ts';
export type { LocalEmbeddingOptions } from './embeddings/hashed-ngrams.ts';
export { KeyOperations } from './key-operations.ts';
export type {
  KeyStatus, KeyringStatus, ReencryptOptions, ReencryptProgress, RootRotation, ValuePlace,
} from './key-operations.ts';
export type { DeleteOptions, MoveTarget } from './tenant-operations.ts';
export type { DeletionRecord } from './tenants/tenant-keys.ts';
export type { EncryptedField } from './crypto/encrypted-fields.ts';
export type { DeclaredCrypto, RowId } from './crypto/declared-crypto.ts';
export type { KeyProvider, WrapContext, WrappedKey } from './crypto/key-provider.ts';
export { LocalKeyProvider } from './crypto/providers/local/local-provider.ts';
export { BackupOperations } from './backup/backup-operations.ts';
export type {
  BackupInfo, BackupProgress, CloneReport, CreateBackupOptions, PruneOptions, PruneReport,
  RestoreReport, UnfinishedBackup, VerifyReport,
} from './backup/backup-reports.ts';
export type { BlobInfo, BlobStore, BlobWriter } from './backup/blob-store.ts';
export { exportTenant } from './backup/tenant-export.ts';
export type { ExportOptions, ExportPart, ExportedTable, TextRow } from './backup/tenant-export.ts';
export { importTenant } from './backup/tenant-import.ts';
export type { ImportOptions, ImportResult, RowTransform } from './backup/tenant-import.ts';
export { resealRows } from './backup/reseal.ts';
