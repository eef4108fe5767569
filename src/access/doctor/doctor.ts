// The doctor: inspects every database of a live deployment and reports isolation faults.
import { toTenancyError } from '../../storage/database-error.ts';
import type { Database } from '../../storage/driver.ts';
import type { RegionStorage } from '../../storage/region.ts';
import type { ListTenantsOptions, Tenant } from '../../tenants/catalog.ts';
import { layoutSchemas, roleFacts, tenantTables } from './facts.ts';
import { privilegesCheck } from './privileges-check.ts';
import { rowSecurityCheck } from './row-security-check.ts';
import { runtimeRoleCheck } from './runtime-role-check.ts';
import { securityDefinerCheck } from './security-definer-check.ts';
import { serverVersionCheck } from './server-version-check.ts';
import { tenantIndexCheck } from './tenant-index-check.ts';
import type {
  CheckId, CheckReport, CheckTarget, DoctorCheck, DoctorReport, Finding, InspectedDatabase,
  RoleFacts,
} from './types.ts';
import { viewsCheck } from './views-check.ts';

export const doctorChecks: readonly DoctorCheck[] = [
  rowSecurityCheck, runtimeRoleCheck, viewsCheck, securityDefinerCheck, tenantIndexCheck,
  privilegesCheck, serverVersionCheck,
];

const inspectionTitle = 'every database of the deployment could be inspected';

export interface DoctorRegion {
  name: string;
  storage: RegionStorage;
  /** Database names of the region's live `database`-isolation tenants. */
  tenantDatabases: readonly string[];
}

interface Tally {
  checked: number;
  findings: Finding[];
  notes: string[];
}

/** The role tenant sessions really run as: asked of a runtime session, not read from config. */
async function sessionRole(storage: RegionStorage): Promise<string> {
  return storage.driver.shared.transaction('runtime', async (tx) => {
    const found = await tx.query<{ role: string }>('SELECT current_user AS role');
    return found.rows[0]?.role ?? '';
  });
}

function failure(region: string, database: string, err: unknown): Finding {
  const wrapped = toTenancyError(err);
  const state = wrapped.sqlState === undefined ? '' : `, SQLSTATE ${wrapped.sqlState}`;
  return { region, database, subject: 'database', problem:
    `could not be inspected (${wrapped.code}${state})` };
}

interface TargetPlan {
  database: string;
  db: Database;
  clusterRoot: boolean;
  rolesHere: boolean;
}

/** The shared database first, then each tenant database; PGlite folders hold their own roles. */
function plan(region: DoctorRegion): TargetPlan[] {
  const { driver } = region.storage;
  const pglite = driver.kind === 'pglite';
  return [
    { database: driver.shared.name, db: driver.shared, clusterRoot: true, rolesHere: true },
    ...region.tenantDatabases.map((name) => ({
      database: name, db: driver.tenantDatabase(name), clusterRoot: false, rolesHere: pglite,
    })),
  ];
}

/** Runs every check on one database inside one read-only admin transaction. */
async function inspect(region: DoctorRegion, target: TargetPlan, role: string,
  clusterRole: RoleFacts | undefined, tallies: Map<CheckId, Tally>):
  Promise<{ inspected: InspectedDatabase; role: RoleFacts }> {
  return target.db.transaction('admin', async (tx) => {
    await tx.query('SET TRANSACTION READ ONLY');
    const layouts = await layoutSchemas(tx);
    const tables = await tenantTables(tx, layouts);
    const facts = target.rolesHere || clusterRole === undefined
      ? await roleFacts(tx, role)
      : clusterRole;
    const checkTarget: CheckTarget = {
      region: region.name, database: target.database, driver: region.storage.driver.kind,
      clusterRoot: target.clusterRoot, rolesHere: target.rolesHere, layouts, tables,
      role: facts, tx,
    };
    for (const check of doctorChecks) {
      const result = await check.run(checkTarget);
      const tally = tallies.get(check.id) as Tally;
      tally.checked += result.checked;
      tally.findings.push(...result.findings);
      tally.notes.push(...(result.notes ?? []));
    }
    return {
      role: facts,
      inspected: {
        region: region.name, database: target.database, driver: region.storage.driver.kind,
        layouts, tables: tables.length,
      },
    };
  });
}

/**
 * Inspects each region's shared database and tenant databases and runs every check on each.
 * A database that cannot be inspected is a failure too: the doctor never passes what it
 * did not see.
 */
export async function runDoctor(regions: readonly DoctorRegion[]): Promise<DoctorReport> {
  const tallies = new Map<CheckId, Tally>(
    [['inspection', { checked: 0, findings: [], notes: [] }],
      ...doctorChecks.map((c): [CheckId, Tally] =>
        [c.id, { checked: 0, findings: [], notes: [] }])],
  );
  const inspection = tallies.get('inspection') as Tally;
  const inspected: InspectedDatabase[] = [];
  for (const region of regions) {
    let role: string;
    try {
      role = await sessionRole(region.storage);
    } catch (err) {
      inspection.findings.push(failure(region.name, region.storage.driver.shared.name, err));
      continue;
    }
    let clusterRole: RoleFacts | undefined;
    for (const target of plan(region)) {
      inspection.checked += 1;
      try {
        const done = await inspect(region, target, role, clusterRole, tallies);
        if (target.clusterRoot) clusterRole = done.role;
        inspected.push(done.inspected);
      } catch (err) {
        inspection.findings.push(failure(region.name, target.database, err));
      }
    }
  }
  const titles = new Map<CheckId, string>([['inspection', inspectionTitle],
    ...doctorChecks.map((c): [CheckId, string] => [c.id, c.title])]);
  const checks: CheckReport[] = [...tallies].map(([id, tally]) => ({
    id, title: titles.get(id) as string, ok: tally.findings.length === 0,
    checked: tally.checked, findings: tally.findings, notes: tally.notes,
  }));
  return { ok: checks.every((check) => check.ok), checks, inspected };
}

const pageSize = 500;

/**
 * The regions to inspect, each with the databases of its live `database`-isolation tenants,
 * read from the catalog a page at a time.
 */
export async function doctorRegions(regions: ReadonlyMap<string, RegionStorage>,
  list: (options: ListTenantsOptions) => Promise<Tenant[]>): Promise<DoctorRegion[]> {
  const found: DoctorRegion[] = [];
  for (const [name, storage] of regions) {
    const tenantDatabases: string[] = [];
    for (const status of ['active', 'suspended'] as const) {
      let after: string | undefined;
      for (;;) {
        const page = await list({ status, region: name, after, limit: pageSize });
        for (const tenant of page.filter((t) => t.isolation === 'database')) {
          tenantDatabases.push(storage.placement('database').locate(tenant.id).database.name);
        }
        if (page.length < pageSize) break;
        after = page.at(-1)?.id;
      }
    }
    found.push({ name, storage, tenantDatabases });
  }
  return found;
}
