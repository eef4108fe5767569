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
    refuseEscapesOnce(sql);
    try {
      return await this.#tx.query<R>(sql, params);
    } catch (err) {
      throw toTenancyError(err, this.tenantId);
    }
  }
}

const transactionControl =
  /^(begin|start|commit|end|abort|rollback(?!\s+to\b)|prepare\s+transaction)\b/i;
// SET LOCAL may tune the planner, but not change who runs the statements or which tenant they
// serve; DO runs text this check never sees.
const sessionSetting =
  /^(reset|discard|do\b|set\s+(?!local\s)|set\s+local\s+(role|session|tenancy\b))/i;
const setConfig = /set_config\s*\(([^)]*)\)/gi;
const plainSetConfig = /^\s*'([^']*)'\s*,[\s\S]*,\s*true\s*$/i;
const guardedSetting = /^(tenancy\.|role$|session_authorization$)/i;

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
  if (transactionControl.test(head) || sessionSetting.test(head) || /u&"/i.test(sql)) {
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
