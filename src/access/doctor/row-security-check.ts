// Check: every tenant table has row-level security enabled and forced, bound to tenant_id.
import type { Queryable } from '../../storage/driver.ts';
import {
  finding, qualifiedName, type CheckTarget, type DoctorCheck, type Finding, type TenantTable,
} from './types.ts';

interface TableState {
  oid: number;
  rls: boolean;
  forced: boolean;
  has_tenant_column: boolean;
}

interface PolicyRow {
  table_oid: number;
  name: string;
  permissive: boolean;
  cmd: string;
  using_expr: string | null;
  check_expr: string | null;
}

// The forms pg_get_expr gives for the policy Tenancy writes (with and without the sub-select
// that makes the planner evaluate the tenant once per statement).
const tenantBound = new Set([
  'tenant_id = ( SELECT tenancy.current_tenant() AS current_tenant)',
  'tenant_id = tenancy.current_tenant()',
]);

/** The expression without the parentheses pg_get_expr wraps around it. */
function bare(expr: string): string {
  let text = expr.trim();
  while (text.startsWith('(') && text.endsWith(')') && balanced(text.slice(1, -1))) {
    text = text.slice(1, -1).trim();
  }
  return text;
}

function balanced(text: string): boolean {
  let depth = 0;
  for (const char of text) {
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (depth < 0) return false;
  }
  return depth === 0;
}

function bound(expr: string | null): boolean {
  return expr !== null && tenantBound.has(bare(expr));
}

async function tableStates(tx: Queryable, tables: TenantTable[]): Promise<Map<number, TableState>> {
  const found = await tx.query<TableState>(
    `SELECT c.oid::int AS oid, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
            EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                      AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS has_tenant_column
       FROM pg_class c WHERE c.oid = ANY($1::oid[])`,
    [tables.map((t) => t.oid)],
  );
  return new Map(found.rows.map((row) => [row.oid, row]));
}

/**
 * Policies that apply to the runtime role: to PUBLIC, to it, or to a role it belongs to. With
 * no such role (the runtime-role check reports that) every policy counts.
 */
async function runtimePolicies(tx: Queryable, tables: TenantTable[], role: string | null):
  Promise<PolicyRow[]> {
  const found = await tx.query<PolicyRow>(
    `SELECT p.polrelid::int AS table_oid, p.polname AS name, p.polpermissive AS permissive,
            p.polcmd::text AS cmd, pg_get_expr(p.polqual, p.polrelid) AS using_expr,
            pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr
       FROM pg_policy p
      WHERE p.polrelid = ANY($1::oid[])
        AND EXISTS (SELECT 1 FROM unnest(p.polroles) AS r(oid)
                     WHERE CASE WHEN $2::text IS NULL OR r.oid = 0 THEN true
                                ELSE pg_has_role($2::text, r.oid, 'MEMBER') END)
      ORDER BY p.polname`,
    [tables.map((t) => t.oid), role],
  );
  return found.rows;
}

function tableFindings(target: CheckTarget, table: TenantTable, state: TableState | undefined,
  policies: PolicyRow[]): Finding[] {
  const subject = qualifiedName(table.schema, table.name);
  const problems: string[] = [];
  if (state === undefined) return [finding(target, subject, 'the table vanished while checked')];
  if (!state.has_tenant_column) problems.push('has no tenant_id column');
  if (!state.rls) problems.push('does not have row-level security enabled');
  if (!state.forced) problems.push('does not force row-level security on its owner');
  const mine = policies.filter((p) => p.table_oid === table.oid);
  const guarding = mine.some((p) => p.permissive && p.cmd === '*' && bound(p.using_expr) &&
    (p.check_expr === null || bound(p.check_expr)));
  if (!guarding) problems.push('has no policy for all commands bound to tenant_id');
  // Permissive policies are OR-ed together: one that is not bound to the tenant opens the table.
  for (const policy of mine.filter((p) => p.permissive)) {
    const open = (policy.using_expr !== null && !bound(policy.using_expr)) ||
      (policy.check_expr !== null && !bound(policy.check_expr));
    if (open) problems.push(`has permissive policy "${policy.name}" not bound to tenant_id`);
  }
  return problems.map((problem) => finding(target, subject, problem));
}

export const rowSecurityCheck: DoctorCheck = {
  id: 'row-security',
  title: 'every tenant table has row-level security enabled, forced and bound to tenant_id',
  async run(target) {
    if (target.tables.length === 0) return { checked: 0, findings: [] };
    const states = await tableStates(target.tx, target.tables);
    const role = target.role.exists ? target.role.name : null;
    const policies = await runtimePolicies(target.tx, target.tables, role);
    const findings = target.tables.flatMap((table) =>
      tableFindings(target, table, states.get(table.oid), policies));
    return { checked: target.tables.length, findings };
  },
};
