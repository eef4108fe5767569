// A session: one transaction bound to exactly one tenant, run as the runtime role.
import { TenancyError } from '../errors.ts';
import type { TenantId } from '../tenant-id.ts';
import { toTenancyError } from './database-error.ts';
import type { Queryable, QueryResult } from './driver.ts';
import { enterTenant, type TenantStorage } from './placements/placement.ts';
import { quoteIdent } from './sql.ts';

// Sessions whose callback has settled. Their transaction is over and the connection it ran on
// may already be serving another tenant, so a statement sent through a kept reference (a late
// timer, a stream still flowing) must not reach it.
const endedSessions = new WeakSet<TenantSession>();

/**
 * What a tenant's code may run. The tenant is fixed for the session's life and every table name
 * comes from `table()`, so SQL written once works in all three isolations.
 */
export class TenantSession {
  readonly #tx: Queryable;
  readonly #schema: string;
  // Set where the server cannot stop a statement itself (PGlite): a statement is then timed here.
  readonly #lateTimeoutMillis: number;
  #timedOut = false;

  constructor(readonly tenantId: TenantId, schema: string, tx: Queryable, lateTimeoutMillis = 0) {
    this.#tx = tx;
    this.#schema = schema;
    this.#lateTimeoutMillis = lateTimeoutMillis;
  }

  /** True once a statement of this session ran past the statement timeout. */
  get timedOut(): boolean {
    return this.#timedOut;
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
    if (endedSessions.has(this)) {
      throw new TenancyError('NO_TENANT_CONTEXT', { tenantId: this.tenantId });
    }
    refuseEscapesOnce(sql);
    if (this.#timedOut) throw new TenancyError('STATEMENT_TIMEOUT', { tenantId: this.tenantId });
    const started = this.#lateTimeoutMillis > 0 ? performance.now() : 0;
    let result: QueryResult<R>;
    try {
      result = await this.#tx.query<R>(sql, params);
    } catch (err) {
      const error = toTenancyError(err, this.tenantId);
      if (error.code === 'STATEMENT_TIMEOUT') this.#timedOut = true;
      throw error;
    }
    if (this.#lateTimeoutMillis > 0 && performance.now() - started > this.#lateTimeoutMillis) {
      this.#timedOut = true;
      throw new TenancyError('STATEMENT_TIMEOUT', { tenantId: this.tenantId });
    }
    return result;
  }
}

const transactionControl =
  /^(begin|start|commit|end|abort|rollback(?!\s+to\b)|prepare\s+transaction)\b/i;
// SET LOCAL may tune the planner, but not change who runs the statements or which tenant they
// serve; DO runs text this check never sees.
// The statement timeout is the tenant's limit, set by the session: its code may not lift it.
const sessionSetting = new RegExp('^(reset|discard|do\\b|set\\s+(?!local\\s)|' +
  'set\\s+local\\s+(role|session|tenancy\\b|statement_timeout\\b))', 'i');
// Prepared statements, cursors (WITH HOLD ones keep their rows after COMMIT) and LISTEN live on
// in the server session, which a pool or PgBouncer hands to the next tenant.
const sessionState = /^(prepare(?!\s+transaction\b)|execute|deallocate|declare|listen)\b/i;
const setConfig = /set_config\s*\(([^)]*)\)/gi;
const plainSetConfig = /^\s*'([^']*)'\s*,[\s\S]*,\s*true\s*$/i;
const guardedSetting = /^(tenancy\.|role$|session_authorization$|statement_timeout$)/i;

/**
 * The statement's first words as the server reads them: comments (which nest) skipped and
 * identifier quotes dropped, so neither a comment after SET nor `"role"` hides what it is.
 */
function leadingWords(sql: string, count: number): string {
  const words: string[] = [];
  let word = '';
  let i = 0;
  const endWord = (): void => {
    if (word !== '') words.push(word);
    word = '';
  };
  while (i < sql.length && words.length < count) {
    if (sql.startsWith('--', i)) {
      endWord();
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
    } else if (sql.startsWith('/*', i)) {
      endWord();
      let depth = 0;
      do {
        if (sql.startsWith('/*', i)) [depth, i] = [depth + 1, i + 2];
        else if (sql.startsWith('*/', i)) [depth, i] = [depth - 1, i + 2];
        else i += 1;
      } while (depth > 0 && i < sql.length);
    } else if (/\s/.test(sql[i] as string)) {
      endWord();
      i += 1;
    } else {
      if (sql[i] !== '"') word += sql[i];
      i += 1;
    }
  }
  endWord();
  return words.slice(0, count).join(' ');
}

function refuseEscapes(sql: string): void {
  const head = leadingWords(sql, 3);
  // A U&"…" identifier can spell any name with escapes, so none of the checks below could see it.
  if (transactionControl.test(head) || sessionSetting.test(head) || sessionState.test(head) ||
    /u&"/i.test(sql)) {
    throw new TenancyError('SESSION_SETTING_REFUSED', {
      params: { detail: 'a tenant session cannot end its transaction or change session state' },
    });
  }
  // Quotes dropped so `"set_config"(…)` is read too; a mention that is not a plain call (a
  // comment before its parenthesis, say) cannot be checked and is refused.
  const bare = sql.replace(/"/g, '');
  const calls = [...bare.matchAll(setConfig)];
  const mentions = bare.match(/set_config/gi)?.length ?? 0;
  // UPDATE pg_settings is SET without LOCAL: it would outlive the transaction.
  const settingsUpdate = /\bpg_settings\b/i.test(bare) && /\bupdate\b/i.test(bare);
  if (calls.length !== mentions || settingsUpdate) refuseSetConfig();
  for (const match of calls) {
    // Only a name written as a plain literal can be checked: `'tenancy' || '.tenant_id'` or a
    // bound `$1` could name anything.
    const call = plainSetConfig.exec(match[1] ?? '');
    if (call === null || guardedSetting.test((call[1] ?? '').trim())) refuseSetConfig();
  }
}

// Stores send the same few texts on every call, and the check is a pure function of the text,
// so a text that passed once is not scanned again. Only short texts are kept, and only so many,
// so ad-hoc SQL cannot grow the set without bound.
const acceptedStatements = new Set<string>();
const maxAcceptedStatements = 1000;
const maxAcceptedLength = 4096;

function refuseEscapesOnce(sql: string): void {
  if (acceptedStatements.has(sql)) return;
  refuseEscapes(sql);
  if (sql.length > maxAcceptedLength) return;
  if (acceptedStatements.size >= maxAcceptedStatements) acceptedStatements.clear();
  acceptedStatements.add(sql);
}

function refuseSetConfig(): never {
  throw new TenancyError('SESSION_SETTING_REFUSED', {
    params: { detail: 'set_config must be transaction-local and leave tenancy settings alone' },
  });
}

export interface SessionOptions {
  signal?: AbortSignal | undefined;
  /** Longest one statement may run; 0 or undefined: no limit. */
  statementTimeoutMillis?: number | undefined;
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
        await enterTenant(tx, storage, tenant);
        const timeout = options.statementTimeoutMillis ?? 0;
        // Transaction-local like the tenant itself: the next user of the connection gets the
        // server's own setting back.
        if (timeout > 0) {
          await tx.query("SELECT set_config('statement_timeout', $1, true)", [String(timeout)]);
        }
        const late = timeout > 0 && storage.database.cancelsSlowStatements !== true ? timeout : 0;
        const session = new TenantSession(tenant, storage.schema, tx, late);
        let result: T;
        try {
          result = await fn(session);
        } finally {
          // Statements already sent run before the COMMIT or ROLLBACK; later ones are refused.
          endedSessions.add(session);
        }
        // Code that caught the timeout and went on must not commit what the session did.
        if (session.timedOut) throw new TenancyError('STATEMENT_TIMEOUT', { tenantId: tenant });
        return result;
      },
      { signal: options.signal },
    );
  } catch (err) {
    throw toTenancyError(err, tenant);
  }
}
