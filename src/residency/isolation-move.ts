// Moves a tenant between isolations in its region: export, lay out the new isolation, import
// with checksums, switch the catalog, drop the old layout. Keys stay: an envelope is bound to
// tenant, table, column and row, never to where the row is stored.
import { tenantResource, type AuditContext, type AuditLog } from '../access/audit-log.ts';
import { exportTenant } from '../backup/tenant-export.ts';
import { spillExport } from '../backup/spill.ts';
import { importTenant, type ImportResult } from '../backup/tenant-import.ts';
import type { Isolation } from '../config/schema.ts';
import type { EncryptedField } from '../crypto/encrypted-fields.ts';
import { TenancyError, isTenancyError } from '../errors.ts';
import type { Database } from '../storage/driver.ts';
import type { Migration } from '../storage/migrations.ts';
import type { RegionStorage } from '../storage/region.ts';
import { fenceTenantIn, unfenceTenantIn } from '../storage/tenant-fence.ts';
import { parseTenantId, type TenantId } from '../tenant-id.ts';
import type { Catalog, Tenant, TenantStatus } from '../tenants/catalog.ts';
import type { TenantKeys } from '../tenants/tenant-keys.ts';
import type { MoveLedger, MoveStep } from './move-ledger.ts';
import type { MoveOptions, MoveResult } from './region-move.ts';
import { holdTenant } from './hold-tenant.ts';
import { digestTenant, type TableDigest } from './tenant-digest.ts';

export const isolationKinds: readonly Isolation[] = ['database', 'schema', 'row'];

export interface IsolationMoveParts {
  catalog: Catalog;
  catalogDb: Database;
  regions: ReadonlyMap<string, RegionStorage>;
  keys: TenantKeys;
  fields: readonly EncryptedField[];
  migrations: readonly Migration[];
  audit: AuditLog;
  /** The region moves' ledger: a tenant in the middle of one is not moved between isolations. */
  regionLedger: MoveLedger;
  /** Drops the tenant from every cache of this process (catalog row, keys). */
  forget(id: TenantId): Promise<void>;
  /** Where an export waits on disk when both ends share PGlite's one connection. */
  dataDir: string;
}

interface LedgerRecord {
  id: string;
  tenantId: string;
  from: Isolation;
  to: Isolation;
  priorStatus: TenantStatus;
}

interface LedgerRow {
  id: string | number; tenant_id: string; from_isolation: Isolation; to_isolation: Isolation;
  prior_status: TenantStatus;
}

/** `tenancy.isolation_moves`: which step each isolation move reached. */
export class IsolationLedger {
  constructor(private readonly db: Database) {}

  prepare(): Promise<void> {
    return this.db.exec(`
CREATE TABLE IF NOT EXISTS tenancy.isolation_moves (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id text NOT NULL REFERENCES tenancy.tenants (id),
  from_isolation text NOT NULL,
  to_isolation text NOT NULL,
  prior_status text NOT NULL,
  step text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz,
  outcome text CHECK (outcome IN ('done', 'undone'))
);
CREATE UNIQUE INDEX IF NOT EXISTS isolation_moves_one_open ON tenancy.isolation_moves (tenant_id)
  WHERE ended_at IS NULL;`);
  }

  async open(tenantId: string): Promise<LedgerRecord | undefined> {
    const found = await this.db.transaction('admin', (tx) => tx.query<LedgerRow>(
      `SELECT id, tenant_id, from_isolation, to_isolation, prior_status
         FROM tenancy.isolation_moves WHERE tenant_id = $1 AND ended_at IS NULL`, [tenantId]));
    const row = found.rows[0];
    return row === undefined ? undefined : {
      id: String(row.id), tenantId: row.tenant_id, from: row.from_isolation,
      to: row.to_isolation, priorStatus: row.prior_status,
    };
  }

  async start(tenantId: string, from: Isolation, to: Isolation, priorStatus: TenantStatus):
    Promise<LedgerRecord> {
    const found = await this.db.transaction('admin', (tx) => tx.query<{ id: string | number }>(
      `INSERT INTO tenancy.isolation_moves (tenant_id, from_isolation, to_isolation,
         prior_status, step) VALUES ($1, $2, $3, $4, 'started') RETURNING id`,
      [tenantId, from, to, priorStatus]));
    return { id: String(found.rows[0]?.id), tenantId, from, to, priorStatus };
  }

  async step(id: string, step: MoveStep): Promise<void> {
    await this.db.transaction('admin', (tx) => tx.query(
      'UPDATE tenancy.isolation_moves SET step = $2 WHERE id = $1', [id, step]));
  }

  async end(id: string, outcome: 'done' | 'undone'): Promise<void> {
    await this.db.transaction('admin', (tx) => tx.query(
      'UPDATE tenancy.isolation_moves SET ended_at = now(), outcome = $2 WHERE id = $1',
      [id, outcome]));
  }
}

const byTable = (digests: readonly TableDigest[]): TableDigest[] =>
  [...digests].sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));

function same(a: readonly TableDigest[], b: readonly TableDigest[]): boolean {
  const x = byTable(a);
  const y = byTable(b);
  return x.length === y.length && x.every((d, i) => d.table === y[i]?.table &&
    d.rows === y[i]?.rows && d.sha256 === y[i]?.sha256);
}

export class IsolationMove {
  readonly #ledger: IsolationLedger;

  private constructor(private readonly parts: IsolationMoveParts, ledger: IsolationLedger) {
    this.#ledger = ledger;
  }

  static async open(parts: IsolationMoveParts): Promise<IsolationMove> {
    const ledger = new IsolationLedger(parts.catalogDb);
    await ledger.prepare();
    return new IsolationMove(parts, ledger);
  }

  /**
   * Moves the tenant's rows into another isolation of its region. Writes are held off (the
   * tenant is suspended, other tenants keep serving) until the catalog switch gives its status
   * back. A move cut short is undone (before the switch) or finished (after it), at once when
   * the process lives on and otherwise by the next call: the tenant is always whole in one
   * isolation.
   */
  async move(id: string, to: Isolation, options: MoveOptions = {}): Promise<MoveResult> {
    const tenantId = parseTenantId(id);
    if (!isolationKinds.includes(to)) {
      throw new TenancyError('VALIDATION_FAILED', { params: { detail: 'isolation' } });
    }
    await this.recover(tenantId, options);
    const tenant = await this.parts.catalog.get(tenantId);
    if (tenant === undefined || tenant.status === 'deleted') {
      throw new TenancyError('TENANT_NOT_FOUND');
    }
    if (tenant.status !== 'active' && tenant.status !== 'suspended') {
      throw new TenancyError('TENANT_NOT_ACTIVE', { params: { status: tenant.status } });
    }
    if (tenant.isolation === to) {
      return { tenantId, from: to, to, moved: false, tables: [] };
    }
    if (await this.parts.regionLedger.open(tenantId) !== undefined) {
      throw new TenancyError('TENANT_NOT_ACTIVE', { params: { status: 'moving' } });
    }
    const record = await this.#ledger.start(tenantId, tenant.isolation, to, tenant.status);
    let step: MoveStep = 'started';
    try {
      await this.#hold(tenant, options);
      await this.#note(record, 'started', options);
      return await this.#copy(tenant, to, record, options, (s) => { step = s; });
    } catch (err) {
      await this.recover(tenantId, options).catch(() => undefined);
      const now = await this.parts.catalog.get(tenantId);
      await this.parts.audit.record({ ...this.#event(tenantId, 'tenant.move', options),
        outcome: 'failed', code: isTenancyError(err) ? err.code : 'INTERNAL',
        detail: `at step ${step} from ${tenant.isolation} to ${to} isolation` })
        .catch(() => undefined);
      throw new TenancyError('TENANT_ISOLATION_MOVE_FAILED', {
        tenantId, cause: err,
        params: { detail: step, isolation: now?.isolation ?? tenant.isolation },
      });
    }
  }

  /**
   * Finishes or undoes an isolation move that was cut short: before the switch the new layout
   * goes and the tenant's status comes back; after it, the old layout goes.
   */
  async recover(tenantId: TenantId, context: AuditContext = {}): Promise<void> {
    const open = await this.#ledger.open(tenantId);
    if (open === undefined) return;
    const tenant = await this.parts.catalog.get(tenantId);
    if (tenant === undefined) return;
    if (tenant.isolation === open.from) {
      await this.#dropLayout(tenant, open.to);
      await unfenceTenantIn(this.#region(tenant.region), open.from, tenantId);
      if (open.priorStatus === 'active') {
        await this.parts.catalog.transition(tenantId, ['suspended'], 'active');
      }
      await this.parts.forget(tenantId);
      await this.#ledger.end(open.id, 'undone');
      await this.parts.audit.record({ ...this.#event(tenantId, 'tenant.move.undone', context),
        outcome: 'ok', detail: `${open.to} copy removed; stays in ${open.from} isolation` });
    } else if (tenant.isolation === open.to) {
      await this.#dropLayout(tenant, open.from);
      await this.#ledger.end(open.id, 'done');
      await this.parts.audit.record({ ...this.#event(tenantId, 'tenant.move.done', context),
        outcome: 'ok', detail: `from ${open.from} to ${open.to} isolation` });
    }
  }

  async #copy(tenant: Tenant, to: Isolation, record: LedgerRecord, options: MoveOptions,
    reached: (step: MoveStep) => void): Promise<MoveResult> {
    const { fields, migrations } = this.parts;
    const region = this.#region(tenant.region);
    const source = region.placement(tenant.isolation).locate(tenant.id);
    const targetPlacement = region.placement(to);
    const version = await targetPlacement.create(tenant.id, migrations);
    const target = targetPlacement.locate(tenant.id);
    // Same keys on both sides: envelopes are copied as they are, and checked by opening them.
    const cipher = await this.parts.keys.cipher(tenant);
    const copied = await digestTenant(tenant.id, source, fields, cipher);
    const exported = exportTenant(source, tenant.id, { digests: true });
    // Between `schema` and `row` on PGlite both layouts are in the shared database, served on
    // one connection: the export is read to the end, into a file, before the import opens.
    const spill = source.database === target.database && region.driver.kind === 'pglite'
      ? await spillExport(exported, this.parts.dataDir) : undefined;
    let imported: ImportResult;
    try {
      imported = await importTenant(target, tenant.id, spill ?? exported,
        { isolation: to, verifyDigests: true });
    } finally {
      await spill?.close();
    }
    reached('copied');
    await this.#note(record, 'copied', options,
      `${imported.tables.length} table(s), ${imported.rows} row(s)`);
    // One after the other: both may be in the one database PGlite serves on one connection.
    const again = await digestTenant(tenant.id, source, fields, cipher);
    const landed = await digestTenant(tenant.id, target, fields, cipher);
    if (!same(copied, again) || !same(copied, landed)) {
      throw new TenancyError('TENANT_ISOLATION_MOVE_FAILED', {
        tenantId: tenant.id, params: { detail: 'verify', isolation: tenant.isolation },
      });
    }
    reached('verified');
    await this.#note(record, 'verified', options,
      `${copied.reduce((n, d) => n + d.rows, 0)} row(s) match`);
    // A fence left by an earlier move out of `to` goes; nothing enters there before the switch.
    await unfenceTenantIn(region, to, tenant.id);
    await this.#switch(tenant, to, version, record.priorStatus);
    reached('switched');
    await this.#note(record, 'switched', options);
    await this.#dropLayout({ ...tenant, isolation: to }, tenant.isolation);
    reached('source-destroyed');
    await this.#note(record, 'source-destroyed', options);
    await this.#ledger.end(record.id, 'done');
    await this.parts.audit.record({ ...this.#event(tenant.id, 'tenant.move', options),
      outcome: 'ok', detail: `from ${tenant.isolation} to ${to} isolation` });
    return { tenantId: tenant.id, from: tenant.isolation, to, moved: true, tables: copied };
  }

  /** Suspends and fences the tenant so no session writes while it is copied. */
  #hold(tenant: Tenant, options: MoveOptions): Promise<void> {
    return holdTenant(this.parts, this.#region(tenant.region), tenant, options.settleMillis);
  }

  /** Points the catalog at the new isolation and gives the tenant its status back, at once. */
  async #switch(tenant: Tenant, to: Isolation, version: number, status: TenantStatus):
    Promise<void> {
    const switched = await this.parts.catalogDb.transaction('admin', (tx) => tx.query(
      `UPDATE tenancy.tenants SET isolation = $2, status = $5, schema_version = $6,
              updated_at = now()
        WHERE id = $1 AND isolation = $3 AND region = $4 AND status = 'suspended'`,
      [tenant.id, to, tenant.isolation, tenant.region, status, version]));
    if (switched.rowCount !== 1) {
      throw new TenancyError('TENANT_ISOLATION_MOVE_FAILED', {
        tenantId: tenant.id, params: { detail: 'switch', isolation: tenant.isolation },
      });
    }
    await this.parts.forget(tenant.id);
  }

  /**
   * Removes the tenant's tables or rows from an isolation it does not live in. Refuses to
   * touch the isolation the catalog names, whatever the caller believes.
   */
  async #dropLayout(tenant: Tenant, isolation: Isolation): Promise<void> {
    const now = await this.parts.catalog.get(tenant.id);
    if (now === undefined || now.isolation === isolation) {
      throw new TenancyError('INTERNAL', { tenantId: tenant.id });
    }
    const region = this.#region(now.region);
    // Processes whose cached catalog row still names this isolation are refused from here on.
    await fenceTenantIn(region, isolation, tenant.id, 'moved');
    await region.placement(isolation).drop(tenant.id);
  }

  async #note(record: LedgerRecord, step: MoveStep, options: MoveOptions, more?: string):
    Promise<void> {
    await this.#ledger.step(record.id, step);
    await this.parts.audit.record({
      ...this.#event(record.tenantId, `tenant.move.${step}`, options), outcome: 'ok',
      detail: `from ${record.from} to ${record.to} isolation${
        more === undefined ? '' : `: ${more}`}`,
    });
    await options.onStep?.(step);
  }

  #event(tenantId: string, action: string, context: AuditContext) {
    return { actor: context.actor, requestId: context.requestId, action, tenantId,
      resource: tenantResource(tenantId) };
  }

  #region(name: string): RegionStorage {
    const region = this.parts.regions.get(name);
    if (region === undefined) {
      throw new TenancyError('REGION_UNKNOWN', { params: { detail: name } });
    }
    return region;
  }
}
