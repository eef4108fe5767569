// One region's audit table: append-only, in its shared database, out of the runtime role's reach.
import type { Database } from '../storage/driver.ts';
import { quoteIdent } from '../storage/sql.ts';

export type AuditOutcome = 'ok' | 'denied' | 'failed';
export const auditOutcomes: readonly AuditOutcome[] = ['ok', 'denied', 'failed'];

/** Who acted: the operator's token, a tenant's API key, the CLI, the library itself, or nobody. */
export type ActorKind = 'admin' | 'api-key' | 'cli' | 'system' | 'anonymous';
export const actorKinds: readonly ActorKind[] = ['admin', 'api-key', 'cli', 'system', 'anonymous'];

export interface AuditActor {
  kind: ActorKind;
  /** An API key id, an operator's login name: an identifier, never a secret. */
  id?: string | undefined;
}

/** One row as written. Nothing here may hold tenant content or a secret. */
export interface AuditRow {
  at: Date;
  actor: AuditActor;
  tenantId: string | null;
  action: string;
  resource: string | null;
  outcome: AuditOutcome;
  code: string | null;
  detail: string | null;
  requestId: string | null;
}

export interface StoredAuditRow extends AuditRow {
  /** Increasing within one region's table. */
  id: string;
}

export interface AuditQuery {
  tenantId?: string | undefined;
  /** An exact action, or a prefix ending in `*` (`tenant.*`). */
  action?: string | undefined;
  outcome?: AuditOutcome | undefined;
  actorKind?: ActorKind | undefined;
  actorId?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  /** Rows with an id below this one (the region's cursor). */
  beforeId?: string | undefined;
  limit: number;
}

interface Row {
  id: string | number | bigint;
  at: Date | string;
  actor_kind: ActorKind;
  actor_id: string | null;
  tenant_id: string | null;
  action: string;
  resource: string | null;
  outcome: AuditOutcome;
  code: string | null;
  detail: string | null;
  request_id: string | null;
}

/** SQLSTATE raised by the append-only trigger. */
export const auditAppendOnlyState = 'TN002';

/**
 * The table and the trigger that refuses UPDATE, DELETE and TRUNCATE. The trigger binds the
 * table's owner too: only dropping the trigger (a deliberate, visible DDL change) gets past it.
 */
function tableSql(runtimeRole: string): string {
  return `
CREATE TABLE IF NOT EXISTS tenancy.audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL,
  actor_kind text NOT NULL
    CHECK (actor_kind IN ('admin', 'api-key', 'cli', 'system', 'anonymous')),
  actor_id text,
  tenant_id text,
  action text NOT NULL,
  resource text,
  outcome text NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
  code text,
  detail text,
  request_id text
);
CREATE INDEX IF NOT EXISTS audit_log_tenant ON tenancy.audit_log (tenant_id, id);
CREATE INDEX IF NOT EXISTS audit_log_at ON tenancy.audit_log (at);
REVOKE ALL ON tenancy.audit_log FROM PUBLIC;
REVOKE ALL ON tenancy.audit_log FROM ${quoteIdent(runtimeRole)};
CREATE OR REPLACE FUNCTION tenancy.audit_log_append_only() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog
AS $fn$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = '${auditAppendOnlyState}';
END
$fn$;
REVOKE ALL ON FUNCTION tenancy.audit_log_append_only() FROM PUBLIC;
CREATE OR REPLACE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON tenancy.audit_log
  FOR EACH ROW EXECUTE FUNCTION tenancy.audit_log_append_only();
CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON tenancy.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION tenancy.audit_log_append_only();
`;
}

const columns = 'id, at, actor_kind, actor_id, tenant_id, action, resource, outcome, code, ' +
  'detail, request_id';

function likePrefix(action: string): string {
  const escaped = action.replace(/[\\%_]/g, (c) => `\\${c}`);
  return escaped.endsWith('*') ? `${escaped.slice(0, -1)}%` : escaped;
}

export class AuditStore {
  constructor(readonly region: string, private readonly db: Database) {}

  prepare(runtimeRole: string): Promise<void> {
    return this.db.exec(tableSql(runtimeRole));
  }

  /** Appends rows in one statement: one round trip however many a flush carries. */
  async append(rows: readonly AuditRow[]): Promise<void> {
    if (rows.length === 0) return;
    const pick = <T>(f: (row: AuditRow) => T): T[] => rows.map(f);
    await this.db.transaction('admin', (tx) => tx.query(
      `INSERT INTO tenancy.audit_log
         (at, actor_kind, actor_id, tenant_id, action, resource, outcome, code, detail, request_id)
       SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[],
         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])`,
      [
        pick((r) => r.at.toISOString()), pick((r) => r.actor.kind), pick((r) => r.actor.id ?? null),
        pick((r) => r.tenantId), pick((r) => r.action), pick((r) => r.resource),
        pick((r) => r.outcome), pick((r) => r.code), pick((r) => r.detail),
        pick((r) => r.requestId),
      ],
    ));
  }

  /** Newest first by id, after the filters. */
  async query(q: AuditQuery): Promise<StoredAuditRow[]> {
    const result = await this.db.transaction('admin', (tx) => tx.query<Row>(
      `SELECT ${columns} FROM tenancy.audit_log
        WHERE ($1::text IS NULL OR tenant_id = $1)
          AND ($2::text IS NULL OR action LIKE $2)
          AND ($3::text IS NULL OR outcome = $3)
          AND ($4::text IS NULL OR actor_kind = $4)
          AND ($5::text IS NULL OR actor_id = $5)
          AND ($6::timestamptz IS NULL OR at >= $6)
          AND ($7::timestamptz IS NULL OR at < $7)
          AND ($8::bigint IS NULL OR id < $8)
        ORDER BY id DESC LIMIT $9`,
      [
        q.tenantId ?? null, q.action === undefined ? null : likePrefix(q.action),
        q.outcome ?? null, q.actorKind ?? null, q.actorId ?? null,
        q.since?.toISOString() ?? null, q.until?.toISOString() ?? null, q.beforeId ?? null,
        q.limit,
      ],
    ));
    return result.rows.map((row) => ({
      id: String(row.id),
      at: new Date(row.at),
      actor: row.actor_id === null ? { kind: row.actor_kind }
        : { kind: row.actor_kind, id: row.actor_id },
      tenantId: row.tenant_id,
      action: row.action,
      resource: row.resource,
      outcome: row.outcome,
      code: row.code,
      detail: row.detail,
      requestId: row.request_id,
    }));
  }
}
