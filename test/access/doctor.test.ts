// The isolation doctor on live deployments: a clean deployment passes, and each fault planted
// with real SQL (RLS off or not forced, no tenant policy, a powerful or owning runtime role, a
// view without security_invoker, a callable SECURITY DEFINER function, an unindexed tenant
// column) is caught by its own check, named in a readable report, with a non-zero exit.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckId, DoctorReport } from '../../src/access/doctor/types.ts';
import { renderDoctorReport } from '../../src/cli/doctor-command.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { Tenancy } from '../../src/index.ts';
import { runCli } from '../cli/cli.ts';
import {
  drivers, freshDeployment, serverAvailable, serverUrl, type TestDeployment,
} from '../support/drivers.ts';

const pgUp = await serverAvailable();

const rowTenant = 'docrow';
const schemaTenant = 'docschema';
const dbTenant = 'docdb';
const schemaLayout = `"tenant_${schemaTenant}"`;
const check = 'tenant_id = (SELECT tenancy.current_tenant())';

/** [check, subject, problem] of every finding, sorted: the whole of what the doctor says. */
type Said = [CheckId, string, string];

function findings(report: DoctorReport): Said[] {
  return report.checks
    .flatMap((c) => c.findings.map((f): Said => [c.id, f.subject, f.problem]))
    .sort((a, b) => a.join('|').localeCompare(b.join('|')));
}

/** Where planted SQL runs: the region's shared database, or the `database` tenant's own. */
type Place = 'shared' | 'tenant-db';

interface Fault {
  name: string;
  place: Place;
  plant: string[];
  undo: string[];
  said: Said[];
}

/** Each fault, for a deployment whose runtime role is `role` and which owns a spare `role2`. */
function faults(role: string, spare: string): Fault[] {
  const rt = `"${role}"`;
  return [
    {
      name: 'a tenant table with row-level security disabled',
      place: 'shared',
      plant: [`ALTER TABLE ${schemaLayout}.documents DISABLE ROW LEVEL SECURITY`],
      undo: [`ALTER TABLE ${schemaLayout}.documents ENABLE ROW LEVEL SECURITY`],
      said: [['row-security', `tenant_${schemaTenant}.documents`,
        'does not have row-level security enabled']],
    },
    {
      name: 'a tenant table whose row-level security is not forced on its owner',
      place: 'shared',
      plant: ['ALTER TABLE tenancy_rows.conversations NO FORCE ROW LEVEL SECURITY'],
      undo: ['ALTER TABLE tenancy_rows.conversations FORCE ROW LEVEL SECURITY'],
      said: [['row-security', 'tenancy_rows.conversations',
        'does not force row-level security on its owner']],
    },
    {
      name: 'a tenant table without its tenant policy',
      place: 'shared',
      plant: ['DROP POLICY tenant_isolation ON tenancy_rows.messages'],
      undo: [`CREATE POLICY tenant_isolation ON tenancy_rows.messages USING (${check}) ` +
        `WITH CHECK (${check})`],
      said: [['row-security', 'tenancy_rows.messages',
        'has no policy for all commands bound to tenant_id']],
    },
    {
      name: 'a permissive policy beside the tenant policy that opens the table',
      place: 'shared',
      plant: [`CREATE POLICY peek ON ${schemaLayout}.messages USING (true)`],
      undo: [`DROP POLICY peek ON ${schemaLayout}.messages`],
      said: [['row-security', `tenant_${schemaTenant}.messages`,
        'has permissive policy "peek" not bound to tenant_id']],
    },
    {
      name: "row-level security disabled in a `database` tenant's own database",
      place: 'tenant-db',
      plant: [`ALTER TABLE "tenant_${dbTenant}".documents DISABLE ROW LEVEL SECURITY`],
      undo: [`ALTER TABLE "tenant_${dbTenant}".documents ENABLE ROW LEVEL SECURITY`],
      said: [['row-security', `tenant_${dbTenant}.documents`,
        'does not have row-level security enabled']],
    },
    {
      name: 'a superuser runtime role',
      place: 'shared',
      plant: [`ALTER ROLE ${rt} SUPERUSER`],
      undo: [`ALTER ROLE ${rt} NOSUPERUSER`],
      said: [['runtime-role', `role ${role}`, 'is a superuser, which ignores row-level security']],
    },
    {
      name: 'a runtime role with BYPASSRLS',
      place: 'shared',
      plant: [`ALTER ROLE ${rt} BYPASSRLS`],
      undo: [`ALTER ROLE ${rt} NOBYPASSRLS`],
      said: [['runtime-role', `role ${role}`, 'has BYPASSRLS']],
    },
    {
      name: 'a runtime role that belongs to a role with BYPASSRLS',
      place: 'shared',
      plant: [`ALTER ROLE "${spare}" BYPASSRLS`, `GRANT "${spare}" TO ${rt}`],
      undo: [`REVOKE "${spare}" FROM ${rt}`, `ALTER ROLE "${spare}" NOBYPASSRLS`],
      said: [['runtime-role', `role ${role}`,
        `is a member of ${spare}, a role with BYPASSRLS, and can SET ROLE to it`]],
    },
    {
      name: 'a tenant table owned by the runtime role',
      place: 'shared',
      plant: [`ALTER TABLE tenancy_rows.documents OWNER TO ${rt}`],
      undo: ['ALTER TABLE tenancy_rows.documents OWNER TO CURRENT_USER'],
      said: [
        // The owner holds every right on its table, so the privileges check says so too.
        ['privileges', 'tenancy_rows.documents', `grants TRUNCATE, TRIGGER, REFERENCES to ${role}`],
        ['runtime-role', 'tenancy_rows.documents', `is owned by the runtime role ${role}`],
      ],
    },
    {
      name: 'a tenant table owned by a role the runtime role belongs to',
      place: 'shared',
      plant: [`ALTER TABLE ${schemaLayout}.conversations OWNER TO "${spare}"`,
        `GRANT "${spare}" TO ${rt}`],
      undo: [`REVOKE "${spare}" FROM ${rt}`,
        `ALTER TABLE ${schemaLayout}.conversations OWNER TO CURRENT_USER`],
      said: [['runtime-role', `tenant_${schemaTenant}.conversations`,
        `is owned by ${spare}, a role the runtime role ${role} belongs to`]],
    },
    {
      name: 'a view in a tenant schema without security_invoker',
      place: 'shared',
      plant: [`CREATE VIEW ${schemaLayout}.everyone AS SELECT id FROM ${schemaLayout}.documents`],
      undo: [`DROP VIEW ${schemaLayout}.everyone`],
      said: [['views', `tenant_${schemaTenant}.everyone`,
        "is a view without security_invoker: it reads tables with its owner's rights"]],
    },
    {
      name: 'a view in the shared row schema without security_invoker',
      place: 'shared',
      plant: ['CREATE VIEW tenancy_rows.all_titles WITH (security_invoker = false) AS ' +
        'SELECT tenant_id, title FROM tenancy_rows.documents'],
      undo: ['DROP VIEW tenancy_rows.all_titles'],
      said: [['views', 'tenancy_rows.all_titles',
        "is a view without security_invoker: it reads tables with its owner's rights"]],
    },
    {
      name: 'a materialized view in a tenant schema',
      place: 'shared',
      plant: [`CREATE MATERIALIZED VIEW ${schemaLayout}.snapshot AS ` +
        `SELECT id FROM ${schemaLayout}.documents WITH NO DATA`],
      undo: [`DROP MATERIALIZED VIEW ${schemaLayout}.snapshot`],
      said: [['views', `tenant_${schemaTenant}.snapshot`,
        'is a materialized view: its rows were read once, outside any tenant policy']],
    },
    {
      name: 'a SECURITY DEFINER function the runtime role may call',
      place: 'shared',
      // EXECUTE goes to PUBLIC by default, and public's USAGE too.
      plant: ['CREATE FUNCTION public.count_every_tenant() RETURNS bigint LANGUAGE sql ' +
        'SECURITY DEFINER SET search_path = pg_catalog ' +
        'AS $$ SELECT count(*) FROM tenancy_rows.documents $$'],
      undo: ['DROP FUNCTION public.count_every_tenant()'],
      said: [['security-definer', 'public.count_every_tenant()',
        `is SECURITY DEFINER and the runtime role ${role} may call it`]],
    },
    {
      name: "Tenancy's own SECURITY DEFINER function once it no longer pins its search_path",
      place: 'shared',
      plant: [`ALTER FUNCTION ${schemaLayout}.ensure_embedding_index(integer, text) ` +
        'RESET search_path'],
      undo: [`ALTER FUNCTION ${schemaLayout}.ensure_embedding_index(integer, text) ` +
        'SET search_path = pg_catalog'],
      said: [['security-definer',
        `tenant_${schemaTenant}.ensure_embedding_index(dim integer, metric text)`,
        'is an intended SECURITY DEFINER function but does not pin its search_path']],
    },
    {
      name: 'a tenant table whose tenant column has no index',
      place: 'shared',
      plant: [
        `CREATE TABLE ${schemaLayout}.notes (tenant_id text NOT NULL, body text)`,
        `ALTER TABLE ${schemaLayout}.notes ENABLE ROW LEVEL SECURITY`,
        `ALTER TABLE ${schemaLayout}.notes FORCE ROW LEVEL SECURITY`,
        `CREATE POLICY tenant_isolation ON ${schemaLayout}.notes USING (${check}) ` +
          `WITH CHECK (${check})`,
        `GRANT SELECT, INSERT ON ${schemaLayout}.notes TO ${rt}`,
      ],
      undo: [`DROP TABLE ${schemaLayout}.notes`],
      said: [['tenant-index', `tenant_${schemaTenant}.notes`,
        'has no index whose first column is tenant_id']],
    },
    {
      name: 'a runtime role allowed to TRUNCATE a tenant table',
      place: 'shared',
      plant: [`GRANT TRUNCATE ON tenancy_rows.documents TO ${rt}`],
      undo: [`REVOKE TRUNCATE ON tenancy_rows.documents FROM ${rt}`],
      said: [['privileges', 'tenancy_rows.documents', `grants TRUNCATE to ${role}`]],
    },
  ];
}

interface Planted {
  kind: 'pg' | 'pglite';
  tenancy: () => Tenancy;
  role: string;
  spare: string;
  /** The `database` tenant's database name. */
  tenantDatabase: () => string;
  deployment: () => TestDeployment;
  config: () => ConfigInput;
  /** Runs superuser SQL in `place`, in one transaction. */
  admin(place: Place, sql: readonly string[]): Promise<void>;
  /** Runs the real bin with this deployment's config; on PGlite Tenancy is closed meanwhile. */
  cli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** A fresh deployment with a tenant in each isolation and, on pg, a runtime role of its own. */
function usePlanted(kind: 'pg' | 'pglite'): Planted {
  const suffix = randomBytes(3).toString('hex');
  // Roles are cluster-wide on a server: faults are planted on roles only this run uses.
  const role = `tt${suffix}_runtime`;
  const spare = `tt${suffix}_spare`;
  let tenancy: Tenancy | undefined;
  let deployment: TestDeployment | undefined;
  let config: ConfigInput | undefined;
  let configDir: string | undefined;
  let tenantDatabase = '';

  const must = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the deployment is not open');
    return value;
  };
  const paused = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (kind === 'pg') return fn();
    await tenancy?.close();
    tenancy = undefined;
    try {
      return await fn();
    } finally {
      tenancy = await Tenancy.open(must(config));
    }
  };

  const planted: Planted = {
    kind, role, spare,
    tenancy: () => must(tenancy),
    tenantDatabase: () => tenantDatabase,
    deployment: () => must(deployment),
    config: () => must(config),
    // The deployment's own admin connection (the superuser that owns the tables), so PGlite
    // folders need not be closed for it.
    admin: async (place, sql) => {
      const t = must(tenancy);
      const { driver } = t.regionOf(await t.tenants.get(rowTenant));
      const db = place === 'shared' ? driver.shared : driver.tenantDatabase(tenantDatabase);
      await db.transaction('admin', async (tx) => {
        for (const statement of sql) await tx.query(statement);
      });
    },
    cli: (args) => paused(async () => {
      const file = join(must(configDir), 'tenancy.json');
      await writeFile(file, JSON.stringify(must(config)));
      return runCli([...args, '--config', file]);
    }),
  };

  beforeAll(async () => {
    deployment = await freshDeployment(kind);
    const base = deployment.config.regions?.local ?? { database: 'embedded' };
    config = { ...deployment.config, regions: { local: { ...base, runtimeRole: role } } };
    configDir = await mkdtemp(join(tmpdir(), 'tenancy-doctor-'));
    tenancy = await Tenancy.open(config);
    await tenancy.tenants.create({ id: rowTenant, isolation: 'row' });
    await tenancy.tenants.create({ id: schemaTenant, isolation: 'schema' });
    await tenancy.tenants.create({ id: dbTenant, isolation: 'database' });
    for (const id of [rowTenant, schemaTenant, dbTenant]) {
      await tenancy.withTenant(id, (t) => t.documents.create({ title: `${id} doc`, text: 'x' }));
    }
    const report = await tenancy.doctor();
    tenantDatabase = report.inspected.map((db) => db.database)
      .find((name) => name.endsWith(dbTenant)) ?? '';
    await planted.admin('shared', [`CREATE ROLE "${spare}" NOLOGIN`]);
  });

  afterAll(async () => {
    await tenancy?.close();
    await deployment?.cleanup();
    if (configDir !== undefined) await rm(configDir, { recursive: true, force: true });
    if (kind === 'pg') {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`DROP ROLE IF EXISTS "${spare}"`);
        await client.query(`DROP ROLE IF EXISTS "${role}"`);
      } finally {
        await client.end();
      }
    }
  });
  return planted;
}

for (const kind of drivers) {
  describe.skipIf(kind === 'pg' && !pgUp)(`doctor on a live ${kind} deployment`, () => {
    const d = usePlanted(kind);

    it('passes a clean deployment in every isolation, and exits 0', async () => {
      const report = await d.tenancy().doctor();
      expect(findings(report)).toEqual([]);
      expect(report.ok).toBe(true);
      // Something was looked at: both databases, every built-in table of the three layouts.
      expect(report.inspected.map((db) => [db.database, db.layouts])).toEqual([
        [kind === 'pg' ? new URL(d.deployment().databaseUrl as string).pathname.slice(1)
          : 'shared', ['tenancy_rows', `tenant_${schemaTenant}`]],
        [d.tenantDatabase(), [`tenant_${dbTenant}`]],
      ]);
      const tables = report.checks.find((c) => c.id === 'row-security')?.checked ?? 0;
      expect(tables).toBe(report.inspected.reduce((n, db) => n + db.tables, 0));
      expect(tables).toBeGreaterThanOrEqual(15);

      const cli = await d.cli(['doctor']);
      expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: '' });
      expect(cli.stdout).toMatch(/^inspected 2 database\(s\) holding \d+ tenant table\(s\)\n/);
      expect(cli.stdout).toMatch(/^ok {4}row-security: /m);
      expect(cli.stdout).not.toMatch(/FAIL/);
      expect(cli.stdout.trim().split('\n').at(-1)).toBe('no isolation faults found');
    });

    it.each(faults(`tt_role_${kind}`, 'spare').map((f) => [f.name]))('catches %s', async (name) => {
      const fault = faults(d.role, d.spare).find((f) => f.name === name) as Fault;
      await d.admin(fault.place, fault.plant);
      let report: DoctorReport;
      try {
        report = await d.tenancy().doctor();
      } finally {
        await d.admin(fault.place, fault.undo);
      }
      const database = fault.place === 'tenant-db' ? d.tenantDatabase()
        : report.inspected[0]?.database;
      expect(findings(report)).toEqual([...fault.said].sort((a, b) =>
        a.join('|').localeCompare(b.join('|'))));
      expect(report.ok).toBe(false);
      for (const c of report.checks) {
        expect(c.ok).toBe(!fault.said.some(([id]) => id === c.id));
        for (const f of c.findings) expect(f).toMatchObject({ region: 'local', database });
      }
      // The operator's report names the check, the database, the object and the problem.
      const text = renderDoctorReport(report);
      for (const [id, subject, problem] of fault.said) {
        expect(text).toMatch(new RegExp(`^FAIL {2}${id}: `, 'm'));
        expect(text).toContain(`        local/${database}: ${subject} ${problem}\n`);
      }
      const failed = new Set(fault.said.map(([id]) => id)).size;
      expect(text.split('\n').at(-1)).toBe(
        `${failed} check(s) failed: the deployment does not keep tenants apart as promised`);
    });

    it('passes again once every fault is undone', async () => {
      const report = await d.tenancy().doctor();
      expect(findings(report)).toEqual([]);
    });

    it('accepts what makes each fault safe: security_invoker, no EXECUTE, an index', async () => {
      const fixes = [
        `CREATE VIEW ${schemaLayout}.mine WITH (security_invoker = true) AS ` +
          `SELECT id FROM ${schemaLayout}.documents`,
        'CREATE FUNCTION public.count_nothing() RETURNS bigint LANGUAGE sql SECURITY DEFINER ' +
          'AS $$ SELECT 0::bigint $$',
        'REVOKE EXECUTE ON FUNCTION public.count_nothing() FROM PUBLIC',
        `CREATE TABLE ${schemaLayout}.indexed (tenant_id text NOT NULL, body text)`,
        `CREATE INDEX ON ${schemaLayout}.indexed (tenant_id)`,
        `ALTER TABLE ${schemaLayout}.indexed ENABLE ROW LEVEL SECURITY`,
        `ALTER TABLE ${schemaLayout}.indexed FORCE ROW LEVEL SECURITY`,
        `CREATE POLICY tenant_isolation ON ${schemaLayout}.indexed USING (${check}) ` +
          `WITH CHECK (${check})`,
      ];
      await d.admin('shared', fixes);
      let report: DoctorReport;
      try {
        report = await d.tenancy().doctor();
      } finally {
        await d.admin('shared', [`DROP VIEW ${schemaLayout}.mine`,
          'DROP FUNCTION public.count_nothing()', `DROP TABLE ${schemaLayout}.indexed`]);
      }
      expect(findings(report)).toEqual([]);
      const checked = (id: CheckId) => report.checks.find((c) => c.id === id)?.checked;
      expect(checked('views')).toBe(1);
      expect(checked('security-definer')).toBeGreaterThanOrEqual(1);
    });

    it('exits 1 with a readable report when a fault is found, and says so in --json', async () => {
      await d.admin('shared', [`ALTER TABLE ${schemaLayout}.documents DISABLE ROW LEVEL SECURITY`]);
      let text: Awaited<ReturnType<Planted['cli']>>;
      let json: Awaited<ReturnType<Planted['cli']>>;
      try {
        text = await d.cli(['doctor']);
        json = await d.cli(['doctor', '--json']);
      } finally {
        await d.admin('shared', [`ALTER TABLE ${schemaLayout}.documents ENABLE ROW LEVEL SECURITY`]);
      }
      expect({ code: text.code, stderr: text.stderr }).toEqual({ code: 1, stderr: '' });
      const shared = kind === 'pg'
        ? new URL(d.deployment().databaseUrl as string).pathname.slice(1) : 'shared';
      expect(text.stdout).toContain('FAIL  row-security: every tenant table has row-level ' +
        'security enabled, forced and bound to tenant_id\n' +
        `        local/${shared}: tenant_${schemaTenant}.documents ` +
        'does not have row-level security enabled\n');
      expect(text.stdout).toMatch(/^ok {4}runtime-role: /m);
      expect(text.stdout.trim().split('\n').at(-1))
        .toBe('1 check(s) failed: the deployment does not keep tenants apart as promised');
      expect(json.code).toBe(1);
      const parsed = JSON.parse(json.stdout) as DoctorReport;
      expect(parsed.ok).toBe(false);
      expect(findings(parsed)).toEqual([['row-security', `tenant_${schemaTenant}.documents`,
        'does not have row-level security enabled']]);
    });

    it('answers GET /admin/doctor with the same report, behind the admin token', async () => {
      const token = `doctor-${randomBytes(12).toString('hex')}`;
      const app = buildApp(d.tenancy(), { logger: false, adminToken: token });
      try {
        const refused = await app.inject({ url: '/admin/doctor' });
        expect(refused.statusCode).toBe(401);
        const answered = await app.inject({ url: '/admin/doctor',
          headers: { authorization: `Bearer ${token}` } });
        expect(answered.statusCode).toBe(200);
        const report = answered.json() as DoctorReport;
        expect(report.ok).toBe(true);
        expect(report.checks.map((c) => c.id)).toEqual(['inspection', 'row-security',
          'runtime-role', 'views', 'security-definer', 'tenant-index', 'privileges',
          'server-version']);
      } finally {
        await app.close();
      }
    });
  });
}
