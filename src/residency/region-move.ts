// Moves a tenant to another region: copy, verify, switch, then destroy the source copy and keys.
import { tenantResource, type AuditContext, type AuditLog } from '../access/audit-log.ts';
import { resealRows } from '../backup/reseal.ts';
import { exportTenant } from '../backup/tenant-export.ts';
import { importTenant } from '../backup/tenant-import.ts';
import type { EncryptedField } from '../crypto/encrypted-fields.ts';
import type { TenantCipher } from '../crypto/tenant-cipher.ts';
import { TenancyError, isTenancyError } from '../errors.ts';
import type { Database } from '../storage/driver.ts';
import type { Migration } from '../storage/migrations.ts';
import type { RegionStorage } from '../storage/region.ts';
import { fenceTenantIn, unfenceTenantIn } from '../storage/tenant-fence.ts';
import { parseTenantId, type TenantId } from '../tenant-id.ts';
import type { Catalog, Tenant } from '../tenants/catalog.ts';
import type { TenantKeys } from '../tenants/tenant-keys.ts';
import type { BackupPlaces } from './backup-places.ts';
import type { MoveLedger, MoveRecord, MoveStep } from './move-ledger.ts';
import type { ResidencyGuard } from './residency-guard.ts';
import { holdTenant } from './hold-tenant.ts';
import { digestTenant, type TableDigest } from './tenant-digest.ts';

export interface RegionMoveParts {
  catalog: Catalog;
  catalogDb: Database;
  regions: ReadonlyMap<string, RegionStorage>;
  keys: TenantKeys;
  fields: readonly EncryptedField[];
  migrations: readonly Migration[];
  audit: AuditLog;
  guard: ResidencyGuard;
  ledger: MoveLedger;
  backups: ReadonlyMap<string, BackupPlaces | undefined>;
  /** Drops the tenant from every cache of this process (catalog row, keys). */
  forget(id: TenantId): Promise<void>;
}

export interface MoveOptions extends AuditContext {
  /**
   * How long to wait after holding writes off, so other processes' cached catalog rows expire
   * (default 1100 ms, just over their one-second life). Safety does not rest on it: the source
   * is fenced and its sessions in flight waited out first, so a process with a stale row has
   * its sessions refused there rather than writing.
   */
  settleMillis?: number;
  /** Called after each step is recorded; a throw here interrupts the move (tests do). */
  onStep?: (step: MoveStep) => void | Promise<void>;
}

export interface MoveResult {
  tenantId: string;
  from: string;
  to: string;
  /** False when the tenant already was in `to`. */
  moved: boolean;
  tables: TableDigest[];
}

function same(a: readonly TableDigest[], b: readonly TableDigest[]): boolean {
  return a.length === b.length && a.every((d, i) => d.table === b[i]?.table &&
    d.rows === b[i]?.rows && d.sha256 === b[i]?.sha256);
}

export class RegionMove {
  constructor(private readonly parts: RegionMoveParts) {}

  /**
   * Moves the tenant's rows, keys and archives to `to`. Writes are held off (the tenant is
   * suspended) for the length of the move; its status comes back with the switch. A move cut
   * short is undone (before the switch) or finished (after it) by the next call, or at once
   * when the process lives on: the tenant is always whole in one region.
   */
  async move(id: string, to: string, options: MoveOptions = {}): Promise<MoveResult> {
    const tenantId = parseTenantId(id);
    await this.recover(tenantId, options);
    const tenant = await this.parts.catalog.get(tenantId);
    if (tenant === undefined || tenant.status === 'deleted') {
      throw new TenancyError('TENANT_NOT_FOUND');
    }
    if (tenant.status !== 'active' && tenant.status !== 'suspended') {
      throw new TenancyError('TENANT_NOT_ACTIVE', { params: { status: tenant.status } });
    }
    this.#region(to);
    if (tenant.region === to) return { tenantId, from: to, to, moved: false, tables: [] };
    for (const what of ['data', 'keys', 'backups'] as const) {
      await this.parts.guard.require({ ...options, tenantId, required: to, target: to, what });
    }
    const record = await this.parts.ledger.start(tenantId, tenant.region, to, tenant.status);
    let step: MoveStep = 'started';
    try {
      await this.#hold(tenant, options);
      await this.#note(record, 'started', options);
      const result = await this.#copy(tenant, to, record, options, (s) => { step = s; });
      return result;
    } catch (err) {
      await this.recover(tenantId, options).catch(() => undefined);
      const now = await this.parts.catalog.get(tenantId);
      await this.parts.audit.record({ ...this.#event(tenantId, 'tenant.move', options),
        outcome: 'failed', code: isTenancyError(err) ? err.code : 'INTERNAL',
        detail: `at step ${step} from ${tenant.region} to ${to}` }).catch(() => undefined);
      throw new TenancyError('TENANT_MOVE_FAILED', {
        tenantId, cause: err, params: { detail: step, region: now?.region ?? tenant.region },
      });
    }
  }

  /**
   * Finishes or undoes a move that was cut short (a crash, a failed step): before the switch
   * the target's copy and keys go and the tenant's status comes back; after it, the source's.
   */
  async recover(tenantId: TenantId, context: AuditContext = {}): Promise<void> {
    const open = await this.parts.ledger.open(tenantId);
    if (open === undefined) return;
    const tenant = await this.parts.catalog.get(tenantId);
    if (tenant === undefined) return;
    if (tenant.region === open.from) {
      await this.#destroyCopy(open.to, tenant);
      await unfenceTenantIn(this.#region(open.from), tenant.isolation, tenantId);
      if (open.priorStatus === 'active') {
        await this.parts.catalog.transition(tenantId, ['suspended'], 'active');
      }
      await this.parts.forget(tenantId);
      await this.parts.ledger.end(open.id, 'undone');
      await this.parts.audit.record({ ...this.#event(tenantId, 'tenant.move.undone', context),
        outcome: 'ok', detail: `copy in ${open.to} removed; stays in ${open.from}` });
    } else if (tenant.region === open.to) {
      await this.#destroyCopy(open.from, tenant);
      await this.parts.ledger.end(open.id, 'done');
      await this.parts.audit.record({ ...this.#event(tenantId, 'tenant.move.done', context),
        outcome: 'ok', detail: `from ${open.from} to ${open.to}` });
    }
  }

  async #copy(tenant: Tenant, to: string, record: MoveRecord, options: MoveOptions,
    reached: (step: MoveStep) => void): Promise<MoveResult> {
    const { keys } = this.parts;
    const target: Tenant = { ...tenant, region: to };
    const from = await keys.cipher(tenant);
    await keys.forget(tenant.id);
    // New keys, made by the target region's provider and kept in its keyring tables.
    await keys.ensure(target);
    const into = await keys.cipher(target);
    await keys.forget(tenant.id);
    try {
      return await this.#copyWith(tenant, to, record, options, reached, from, into);
    } finally {
      // Both were dropped from the cache above; the next session unwraps the target's afresh.
      from.destroy();
      into.destroy();
    }
  }

  async #copyWith(tenant: Tenant, to: string, record: MoveRecord, options: MoveOptions,
    reached: (step: MoveStep) => void, from: TenantCipher, into: TenantCipher):
    Promise<MoveResult> {
    const { fields } = this.parts;
    const target: Tenant = { ...tenant, region: to };
    const sourceStorage = this.#region(tenant.region).placement(tenant.isolation)
      .locate(tenant.id);
    const targetPlacement = this.#region(to).placement(tenant.isolation);
    await targetPlacement.create(tenant.id, this.parts.migrations);
    const targetStorage = targetPlacement.locate(tenant.id);
    const copied = await digestTenant(tenant.id, sourceStorage, fields, from);
    // The same export and import as backups and clones, every envelope sealed again on the way.
    const imported = await importTenant(targetStorage, tenant.id,
      exportTenant(sourceStorage, tenant.id),
      { isolation: tenant.isolation, transform: resealRows(fields, from, into) });
    reached('copied');
    await this.#note(record, 'copied', options,
      `${imported.tables.length} table(s), ${imported.rows} row(s)`);
    const [again, landed] = await Promise.all([
      digestTenant(tenant.id, sourceStorage, fields, from),
      digestTenant(tenant.id, targetStorage, fields, into),
    ]);
    if (!same(copied, again) || !same(copied, landed)) {
      throw new TenancyError('TENANT_MOVE_FAILED', {
        tenantId: tenant.id, params: { detail: 'verify', region: tenant.region },
      });
    }
    reached('verified');
    await this.#note(record, 'verified', options,
      `${copied.reduce((n, d) => n + d.rows, 0)} row(s) match`);
    // A fence left by an earlier move out of `to` goes; nothing enters there before the switch.
    await unfenceTenantIn(this.#region(to), tenant.isolation, tenant.id);
    await this.#switch(tenant, to, record.priorStatus);
    reached('switched');
    await this.#note(record, 'switched', options);
    await this.#destroyCopy(tenant.region, target);
    reached('source-destroyed');
    await this.#note(record, 'source-destroyed', options);
    await this.parts.ledger.end(record.id, 'done');
    await this.parts.audit.record({ ...this.#event(tenant.id, 'tenant.move', options),
      outcome: 'ok', detail: `from ${tenant.region} to ${to}` });
    return { tenantId: tenant.id, from: tenant.region, to, moved: true, tables: copied };
  }

  /**
   * Suspends the tenant, then fences it off in the source and waits out its sessions in flight
   * there, so nothing is written to the source once the copy begins.
   */
  #hold(tenant: Tenant, options: MoveOptions): Promise<void> {
    return holdTenant(this.parts, this.#region(tenant.region), tenant, options.settleMillis);
  }

  /** Points the catalog at the new region and gives the tenant its status back, in one step. */
  async #switch(tenant: Tenant, to: string, status: Tenant['status']): Promise<void> {
    const switched = await this.parts.catalogDb.transaction('admin', (tx) => tx.query(
      `UPDATE tenancy.tenants SET region = $2, status = $4, updated_at = now()
        WHERE id = $1 AND region = $3 AND status = 'suspended'`,
      [tenant.id, to, tenant.region, status]));
    if (switched.rowCount !== 1) {
      throw new TenancyError('TENANT_MOVE_FAILED', {
        tenantId: tenant.id, params: { detail: 'switch', region: tenant.region },
      });
    }
    await this.parts.forget(tenant.id);
  }

  /**
   * Removes the tenant's tables, rows, keys and archives from a region it does not live in.
   * Refuses to touch the region the catalog names, whatever the caller believes.
   */
  async #destroyCopy(region: string, tenant: Tenant): Promise<void> {
    const now = await this.parts.catalog.get(tenant.id);
    if (now === undefined || now.region === region) {
      throw new TenancyError('INTERNAL', { tenantId: tenant.id });
    }
    const storage = this.#region(region);
    // Processes whose cached catalog row still names this region are refused from here on.
    await fenceTenantIn(storage, tenant.isolation, tenant.id, 'moved');
    await storage.placement(tenant.isolation).drop(tenant.id);
    await destroyKeys(storage.driver.shared, tenant.id);
    await this.parts.backups.get(region)?.remove(tenant.id);
  }

  async #note(record: MoveRecord, step: MoveStep, options: MoveOptions, more?: string):
    Promise<void> {
    await this.parts.ledger.step(record.id, step);
    await this.parts.audit.record({
      ...this.#event(record.tenantId, `tenant.move.${step}`, options), outcome: 'ok',
      detail: `from ${record.from} to ${record.to}${more === undefined ? '' : `: ${more}`}`,
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

/**
 * Overwrites the tenant's wrapped keys in one region with zeros and deletes them. Unlike a
 * shred it leaves no `destroyed` record: the tenant lives on elsewhere, and may come back.
 */
export async function destroyKeys(db: Database, tenantId: string): Promise<void> {
  await db.transaction('admin', async (tx) => {
    await tx.query(
      `UPDATE tenancy_keys.tenant_keys SET wrapped = CASE WHEN wrapped IS NULL THEN NULL
         ELSE decode(repeat('00', length(wrapped)), 'hex') END WHERE tenant_id = $1`,
      [tenantId]);
    await tx.query(
      `UPDATE tenancy_keys.keyrings
          SET wrapped_master = decode(repeat('00', length(wrapped_master)), 'hex')
        WHERE tenant_id = $1`, [tenantId]);
    await tx.query('DELETE FROM tenancy_keys.keyrings WHERE tenant_id = $1', [tenantId]);
  });
  await db.exec('VACUUM tenancy_keys.keyrings, tenancy_keys.tenant_keys').catch(() => undefined);
}
