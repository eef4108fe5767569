// One catalogue of errors: each has a stable code, an HTTP status and a message template.

export const errorCatalogue = {
  CONFIG_INVALID: { status: 500, message: 'configuration is invalid: {detail}' },
  VALIDATION_FAILED: { status: 400, message: 'request is invalid: {detail}' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'request body is larger than the limit' },
  TENANT_ID_INVALID: {
    status: 400,
    message: 'tenant id is invalid: {detail}',
  },
  TENANT_NOT_FOUND: { status: 404, message: 'tenant not found' },
  TENANT_EXISTS: { status: 409, message: 'tenant id is already taken' },
  TENANT_SUSPENDED: { status: 403, message: 'tenant is suspended' },
  TENANT_NOT_ACTIVE: { status: 409, message: 'tenant is {status}' },
  REGION_UNKNOWN: { status: 400, message: 'region is not configured: {detail}' },
  RESIDENCY_VIOLATION: {
    status: 409,
    message: 'residency violation: tenant {tenant} must stay in region {required}; ' +
      '{what} in region {offending} refused',
  },
  TENANT_MOVE_FAILED: {
    status: 500,
    message: 'tenant move failed at step {detail}; the tenant is whole in region {region}',
  },
  TENANT_ISOLATION_MOVE_FAILED: {
    status: 500,
    message: 'tenant move failed at step {detail}; the tenant is whole in {isolation} isolation',
  },
  NOT_FOUND: { status: 404, message: 'not found' },
  ID_TAKEN: { status: 409, message: 'an object with this id already exists' },
  UNAUTHENTICATED: { status: 401, message: 'missing or invalid credentials' },
  FORBIDDEN: { status: 403, message: 'not allowed' },
  NO_TENANT_CONTEXT: {
    status: 500,
    message: 'no tenant context: tenant tables are only reachable inside a tenant session',
  },
  SESSION_SETTING_REFUSED: {
    status: 500,
    message: 'session-wide settings are refused: {detail}',
  },
  DATA_FOLDER_LOCKED: {
    status: 503,
    message: 'data folder {detail}',
  },
  POOL_TIMEOUT: { status: 503, message: 'no database connection became free in time' },
  CLOSED: { status: 503, message: 'tenancy is closed' },
  OPERATION_CANCELLED: {
    status: 503,
    message: 'the operation stopped before it finished because the server closed; ' +
      'nothing it did was kept',
  },
  CANCELLED: {
    status: 503,
    message: 'the session was cancelled before it committed; nothing it wrote was kept',
  },
  EMBEDDING_DIMENSION_MISMATCH: {
    status: 400,
    message: 'embedding dimension does not match the tenant\'s: {detail}',
  },
  EMBEDDING_NOT_FINITE: {
    status: 400,
    message: 'embedding values must be finite 32-bit floats: {detail}',
  },
  EMBEDDING_ZERO: { status: 400, message: 'an embedding of all zeros has no direction' },
  EMBEDDINGS_NOT_CONFIGURED: {
    status: 409,
    message: 'no embedding dimension is set for this tenant yet',
  },
  ROOT_KEY_INVALID: { status: 500, message: 'root key is unusable: {detail}' },
  KEY_UNWRAP_FAILED: { status: 500, message: 'a tenant key could not be unwrapped' },
  KEY_INVALID: { status: 500, message: 'key is invalid: {detail}' },
  KEY_PROVIDER_UNAVAILABLE: { status: 503, message: 'key provider is unavailable: {detail}' },
  KEY_PROVIDER_CLOSED: { status: 503, message: 'key provider is closed' },
  KEY_ROTATION_REFUSED: { status: 409, message: 'key rotation refused: {detail}' },
  KEY_VERSION_IN_USE: { status: 409, message: 'key version {detail}: it cannot be retired yet' },
  KEY_VERSION_UNKNOWN: { status: 404, message: 'the tenant has no key version {detail}' },
  KEYS_DESTROYED: { status: 410, message: "the tenant's keys were destroyed" },
  DECRYPT_FAILED: {
    status: 500,
    message: 'an encrypted value failed its integrity check: {detail}',
  },
  FIELD_NOT_ENCRYPTED: { status: 400, message: 'field is not declared as encrypted: {detail}' },
  RATE_LIMITED: { status: 429, message: 'too many requests for this tenant; retry later' },
  STATEMENT_TIMEOUT: {
    status: 503,
    message: "a statement ran longer than the tenant's statement timeout",
  },
  JOB_TENANT_REQUIRED: { status: 400, message: 'a job must name the tenant it works for' },
  JOB_INVALID: { status: 400, message: 'job is invalid: {detail}' },
  JOBS_UNAVAILABLE: { status: 503, message: 'the job queue is unavailable' },
  BACKUP_ID_INVALID: { status: 400, message: 'backup id is invalid: {detail}' },
  BACKUP_NOT_FOUND: { status: 404, message: 'backup not found: {detail}' },
  BACKUP_CORRUPT: { status: 422, message: 'the archive failed verification: {detail}' },
  BACKUP_TENANT_MISMATCH: {
    status: 409,
    message: 'the archive belongs to another tenant ({detail}); restore it with clone instead',
  },
  BACKUP_INCOMPATIBLE: { status: 409, message: 'the archive cannot be restored here: {detail}' },
  BACKUP_KEYS_DESTROYED: {
    status: 410,
    message: "the archive cannot be read: its tenant's keys were destroyed (crypto-shredded)",
  },
  BACKUP_STORE_UNAVAILABLE: { status: 503, message: 'the backup store failed: {detail}' },
  DATABASE_ERROR: { status: 500, message: 'database error' },
  INTERNAL: { status: 500, message: 'internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export interface TenancyErrorOptions {
  /** The caller's own tenant, never another one. */
  tenantId?: string;
  /** Fills `{detail}` / `{status}` in the template; must never hold secrets or content. */
  params?: Record<string, string>;
  cause?: unknown;
  /** Postgres fields kept from a wrapped driver error. */
  sqlState?: string;
  constraint?: string;
}

/** The only error type the library throws on purpose. */
export class TenancyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly tenantId: string | undefined;
  readonly sqlState: string | undefined;
  readonly constraint: string | undefined;

  constructor(code: ErrorCode, options: TenancyErrorOptions = {}) {
    const entry = errorCatalogue[code];
    const message = entry.message.replace(/\{(\w+)\}/g, (_, key: string) => {
      return options.params?.[key] ?? key;
    });
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TenancyError';
    this.code = code;
    this.status = entry.status;
    this.tenantId = options.tenantId;
    this.sqlState = options.sqlState;
    this.constraint = options.constraint;
  }

  /** What a client may see: code and message, nothing else. */
  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isTenancyError(err: unknown, code?: ErrorCode): err is TenancyError {
  return err instanceof TenancyError && (code === undefined || err.code === code);
}
