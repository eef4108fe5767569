// The record of region moves, beside the catalog: which step each move reached, so a move cut
// short is finished or undone by the next one, and the report knows where a tenant used to be.
import type { Database } from '../storage/driver.ts';
import type { TenantStatus } from '../tenants/catalog.ts';

/** The steps in order; `switched` is the point of no return. */
export const moveSteps = ['started', 'copied', 'verified', 'switched', 'source-destroyed',
  'done'] as const;
export type MoveStep = (typeof moveSteps)[number];

export interface MoveRecord {
  id: string;
  tenantId: string;
  from: string;
  to: string;
  priorStatus: TenantStatus;
  step: MoveStep;
  /** Null while the move is open; set when it finished or was undone. */
  endedAt: Date | null;
  outcome: 'done' | 'undone' | null;
}

interface Row {
  id: string | number; tenant_id: string; from_region: string; to_region: string;
  prior_status: TenantStatus; step: MoveStep; ended_at: Date | string | null;
  outcome: 'done' | 'undone' | null;
}

const columns = 'id, tenant_id, from_region, to_region, prior_status, step, ended_at, outcome';

function toRecord(row: Row): MoveRecord {
  return {
    id: String(row.id), tenantId: row.tenant_id, from: row.from_region, to: row.to_region,
    priorStatus: row.prior_status, step: row.step, outcome: row.outcome,
    endedAt: row.ended_at === null ? null : new Date(row.ended_at),
  };
}

export class MoveLedger {
  constructor(private readonly db: Database) {}

  prepare(): Promise<void> {
    return this.db.exec(`
CREATE TABLE IF NOT EXISTS tenancy.region_moves (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id text NOT NULL REFERENCES tenancy.tenants (id),
  from_region text NOT NULL,
  to_region text NOT NULL,
  prior_status text NOT NULL,
  step text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz,
  outcome text CHECK (outcome IN ('done', 'undone'))
);
CREATE UNIQUE INDEX IF NOT EXISTS region_moves_one_open ON tenancy.region_moves (tenant_id)
  WHERE ended_at IS NULL;`);
  }

  /** The tenant's unfinished move, if one was cut short. */
  async open(tenantId: string): Promise<MoveRecord | undefined> {
    const found = await this.db.transaction('admin', (tx) => tx.query<Row>(
      `SELECT ${columns} FROM tenancy.region_moves WHERE tenant_id = $1 AND ended_at IS NULL`,
      [tenantId]));
    const row = found.rows[0];
    return row === undefined ? undefined : toRecord(row);
  }

  async start(tenantId: string, from: string, to: string, priorStatus: TenantStatus):
    Promise<MoveRecord> {
    const found = await this.db.transaction('admin', (tx) => tx.query<Row>(
      `INSERT INTO tenancy.region_moves (tenant_id, from_region, to_region, prior_status, step)
       VALUES ($1, $2, $3, $4, 'started') RETURNING ${columns}`,
      [tenantId, from, to, priorStatus]));
    return toRecord(found.rows[0] as Row);
  }

  async step(id: string, step: MoveStep): Promise<void> {
    await this.db.transaction('admin', (tx) => tx.query(
      'UPDATE tenancy.region_moves SET step = $2 WHERE id = $1', [id, step]));
  }

  async end(id: string, outcome: 'done' | 'undone'): Promise<void> {
    await this.db.transaction('admin', (tx) => tx.query(
      'UPDATE tenancy.region_moves SET ended_at = now(), outcome = $2 WHERE id = $1',
      [id, outcome]));
  }

  /** Regions each tenant was moved out of by a finished move. */
  async leftRegions(): Promise<Map<string, Set<string>>> {
    const found = await this.db.transaction('admin', (tx) => tx.query<{ tenant_id: string;
      from_region: string }>(
      "SELECT tenant_id, from_region FROM tenancy.region_moves WHERE outcome = 'done'"));
    const left = new Map<string, Set<string>>();
    for (const row of found.rows) {
      const set = left.get(row.tenant_id) ?? new Set<string>();
      set.add(row.from_region);
      left.set(row.tenant_id, set);
    }
    return left;
  }
}
