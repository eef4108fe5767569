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
