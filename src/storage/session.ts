// A session: one transaction bound to exactly one tenant, run as the runtime role.
import { TenancyError } from '../errors.ts';
import type { TenantId } from '../tenant-id.ts';
import { toTenancyError } from './database-error.ts';
import type { Queryable, QueryResult } from './driver.ts';
import { bindTenant, type TenantStorage } from './placements/placement.ts';
import { quoteIdent } from './sql.ts';

/**
 * What a tenant's code may run. The tenant is fixed for the session's life and every table name
 * comes from `table()`, so SQL written once works in all three isolations.
 */
export class TenantSession {
  readonly #tx: Queryable;
  readonly #schema: string;

  constructor(readonly tenantId: TenantId, schema: string, tx: Queryable) {
    this.#tx = tx;
    this.#schema = schema;
  }

  /** `session.table('messages')` → `"tenant_acme"."messages"` (or the shared row table). */
  table(name: string): string {
    return `${quoteIdent(this.#schema)}.${quoteIdent(name)}`;
  }

  /**
   * Runs one statement with bound parameters. Statements that would outlive or escape the
   * transaction (BEGIN, COMMIT, SET without LOCAL, SET ROLE, RESET, DISCARD, set_config(…, false))
   * are refused before they reach the server.
   */
  async query<R extends object = Record<string, unknown>>(
    sql: string,
    params: readonly unknown[] = [],
  ): Promise<QueryResult<R>> {
    refuseEscapes(sql);
    try {
      return await this.#tx.query<R>(sql, params);
    } catch (err) {
      throw toTenancyError(err, this.tenantId);
    }
  }
}

const leadingComments = /^(\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/)+/;
const transactionControl = /^(begin|start|commit|end|abort|rollback(?!\s+to\b)|prepare\s+transaction)\b/i;
const sessionSetting = /^(reset|discard|set\s+(?!local\s)|set\s+local\s+(role|session)\b)/i;
const setConfig = /set_config\s*\(([^)]*)\)/gi;

function refuseEscapes(sql: string): void {
  const head = sql.replace(leadingComments, '');
  if (transactionControl.test(head) || sessionSetting.test(head)) {
    throw new TenancyError('SESSION_SETTING_REFUSED', {
      params: { detail: 'a tenant session cannot end its transaction or change session state' },
    });
  }
  for (const match of sql.matchAll(setConfig)) {
    const args = match[1] ?? '';
    if (!/,\s*true\s*$/i.test(args) || /tenancy\.|'role'|session_authorization/i.test(args)) {
      throw new TenancyError('SESSION_SETTING_REFUSED', {
        params: { detail: 'set_config must be transaction-local and leave tenancy settings alone' },
      });
    }
  }
}

export interface SessionOptions {
  signal?: AbortSignal | undefined;
}

/** Opens a transaction on the tenant's storage, binds the tenant, runs `fn`, commits. */
export async function runSession<T>(
  storage: TenantStorage,
  tenant: TenantId,
  fn: (session: TenantSession) => Promise<T>,
  options: SessionOptions = {},
): Promise<T> {
  try {
    return await storage.database.transaction(
      'runtime',
      async (tx) => {
        await bindTenant(tx, tenant);
        return fn(new TenantSession(tenant, storage.schema, tx));
      },
      { signal: options.signal },
    );
  } catch (err) {
    throw toTenancyError(err, tenant);
  }
}
