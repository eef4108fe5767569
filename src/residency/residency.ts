// `tenancy.residency`: the guard, the region router's check, the report and region moves.
import type { AuditContext, AuditLog } from '../access/audit-log.ts';
import type { Isolation, TenancyConfig } from '../config/schema.ts';
import type { EncryptedField } from '../crypto/encrypted-fields.ts';
import { TenancyError } from '../errors.ts';
import type { Database } from '../storage/driver.ts';
import type { Migration } from '../storage/migrations.ts';
import type { RegionStorage } from '../storage/region.ts';
import { parseTenantId, type TenantId } from '../tenant-id.ts';
import type { Catalog, Tenant } from '../tenants/catalog.ts';
import type { TenantKeys } from '../tenants/tenant-keys.ts';
import { FolderBackupPlaces, storeLocation, type BackupPlaces } from './backup-places.ts';
import { inspectRegion, type Place } from './inspect-region.ts';
import { IsolationMove } from './isolation-move.ts';
import { MoveLedger } from './move-ledger.ts';
import { regionFaults } from './region-marks.ts';
import { RegionMove, type MoveOptions, type MoveResult } from './region-move.ts';
import { judge, type ResidencyFinding, type ResidencyReport } from './residency-report.ts';
import { ResidencyGuard, type ResidencyCheck } from './residency-guard.ts';

export interface ResidencyParts {
  config: TenancyConfig;
  dataDir: string;
  catalog: Catalog;
  catalogDb: Database;
  catalogRegion: string;
  regions: ReadonlyMap<string, RegionStorage>;
  keys: TenantKeys;
  fields: readonly EncryptedField[];
  migrations: readonly Migration[];
  audit: AuditLog;
  forget(id: TenantId): Promise<void>;
  /**
   * Each region's blob store as the report and moves see it; without it, folder stores are
   * read directly and S3 stores are not looked at.
   */
  backups?: ReadonlyMap<string, BackupPlaces | undefined>;
}

export class Residency {
  readonly guard: ResidencyGuard;
  readonly #parts: ResidencyParts;
  readonly #ledger: MoveLedger;
  readonly #backups: ReadonlyMap<string, BackupPlaces | undefined>;
  readonly #move: RegionMove;
  readonly #isolationMove: IsolationMove;

  private constructor(parts: ResidencyParts, guard: ResidencyGuard, ledger: MoveLedger,
    isolationMove: IsolationMove) {
    this.#parts = parts;
    this.guard = guard;
    this.#ledger = ledger;
    this.#backups = parts.backups ?? new Map([...parts.regions.keys()].map((name) => {
      const config = parts.config.regions[name]?.backups ?? { store: 'folder' as const };
      return [name, config.store === 'folder'
        ? new FolderBackupPlaces(name, storeLocation(config, parts.dataDir, name))
        : undefined];
    }));
    this.#move = new RegionMove({ ...parts, guard, ledger, backups: this.#backups });
    this.#isolationMove = isolationMove;
  }

  /** Marks every region's resources, finds any two regions share, and prepares the ledger. */
  static async open(parts: ResidencyParts): Promise<Residency> {
    const faults = await regionFaults(parts.config, parts.dataDir, parts.regions, parts.keys);
    const ledger = new MoveLedger(parts.catalogDb);
    await ledger.prepare();
    const isolationMove = await IsolationMove.open({ ...parts, regionLedger: ledger });
    return new Residency(parts, new ResidencyGuard(parts.audit, faults), ledger, isolationMove);
  }

  /**
   * The router's check before any of a tenant's resources is handed out: its region's server,
   * keys and store must be that region's own. Throws RESIDENCY_VIOLATION otherwise.
   */
  async route(tenant: Pick<Tenant, 'id' | 'region'>, context: AuditContext = {}):
    Promise<RegionStorage> {
    if (this.guard.faults.some((f) => f.region === tenant.region)) {
      await this.guard.requireHome(tenant.id, tenant.region, context);
    }
    const region = this.#parts.regions.get(tenant.region);
    if (region === undefined) {
      throw new TenancyError('REGION_UNKNOWN', { params: { detail: tenant.region } });
    }
    return region;
  }

  /** Refuses (and audits) an item of a tenant bound for a region other than its own. */
  require(check: ResidencyCheck): Promise<void> {
    return this.guard.require(check);
  }

  /**
   * Where every tenant's (or one tenant's) rows, keys, audit records and archives are, read
   * from each region's server and store, with anything out of place flagged.
   */
  async report(tenantId?: string): Promise<ResidencyReport> {
    const only = tenantId === undefined ? undefined : parseTenantId(tenantId);
    const tenants: Tenant[] = [];
    for (;;) {
      const page = await this.#parts.catalog.list({ after: tenants.at(-1)?.id, limit: 1000 });
      tenants.push(...page);
      if (page.length < 1000) break;
    }
    const places: Place[] = [];
    for (const [name, region] of this.#parts.regions) {
      places.push(...await inspectRegion(region, this.#parts.dataDir, this.#backups.get(name)));
    }
    const report = judge({
      tenants, places, catalogRegion: this.#parts.catalogRegion,
      left: await this.#ledger.leftRegions(), regions: [...this.#parts.regions.keys()], only,
    });
    const shared: ResidencyFinding[] = this.guard.faults.map((fault) => ({
      tenantId: '', region: fault.region, kind: fault.what === 'data' ? 'rows' : fault.what,
      where: `${fault.what} of region ${fault.owner}`, problem: 'shared-resource',
    }));
    report.findings.push(...shared);
    report.ok = report.ok && shared.length === 0;
    return report;
  }

  /** `tenants move <id> --region <r>`: see RegionMove.move. */
  async move(id: string, region: string, options?: MoveOptions): Promise<MoveResult> {
    // A tenant half way between isolations is made whole in one before it changes region.
    await this.#isolationMove.recover(parseTenantId(id), options);
    return this.#move.move(id, region, options);
  }

  /**
   * Undoes or finishes a move of the tenant that a stopped process left open (between
   * isolations, then between regions): afterwards it is whole in one place and its status is
   * the one it had before the move. Nothing to do when no move is open.
   */
  async recover(id: string, context?: AuditContext): Promise<void> {
    const tenantId = parseTenantId(id);
    await this.#isolationMove.recover(tenantId, context);
    await this.#move.recover(tenantId, context);
  }

  /** `tenants move <id> --isolation <i>`: see IsolationMove.move. */
  moveIsolation(id: string, isolation: Isolation, options?: MoveOptions): Promise<MoveResult> {
    return this.#isolationMove.move(id, isolation, options);
  }
}
