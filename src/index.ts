// Public entry point of the library.
export { Tenancy, TenantOperations, ApiKeyOperations } from './tenancy.ts';
export type { TenantScope, CreatedTenant, OpenOptions } from './tenancy.ts';
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
