// Check: tenant sessions run as a role that is no superuser, owns no tenant table, and cannot
// bypass row-level security, neither by itself nor through a role it belongs to.
import { allPowerful } from './facts.ts';
import {
  finding, qualifiedName, type CheckTarget, type DoctorCheck, type Finding,
} from './types.ts';

function attributeFindings(target: CheckTarget): Finding[] {
  const { role } = target;
  const subject = `role ${role.name}`;
  if (!role.exists) return [finding(target, subject, 'the runtime role does not exist')];
  const problems: string[] = [];
  if (role.superuser) problems.push('is a superuser, which ignores row-level security');
  if (role.bypassRls) problems.push('has BYPASSRLS');
  // With CREATEROLE a role can, on PostgreSQL 15 and older, grant itself a table owner's role.
  if (role.createRole) problems.push('has CREATEROLE, so it could grant itself other roles');
  for (const above of role.escalations) {
    const what = above.superuser ? 'a superuser' : 'a role with BYPASSRLS';
    problems.push(`is a member of ${above.role}, ${what}, and can SET ROLE to it`);
  }
  return problems.map((problem) => finding(target, subject, problem));
}

/** Tenant tables the runtime role owns, itself or through membership: an owner may turn RLS off. */
async function ownershipFindings(target: CheckTarget): Promise<Finding[]> {
  if (!target.role.exists || target.tables.length === 0) return [];
  const owned = await target.tx.query<{ schema: string; name: string; owner: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, pg_get_userbyid(c.relowner) AS owner
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = ANY($1::oid[]) AND pg_has_role($2, c.relowner, 'MEMBER')
      ORDER BY n.nspname, c.relname`,
    [target.tables.map((t) => t.oid), target.role.name],
  );
  return owned.rows.map((row) => finding(target, qualifiedName(row.schema, row.name),
    row.owner === target.role.name
      ? `is owned by the runtime role ${row.owner}`
      : `is owned by ${row.owner}, a role the runtime role ${target.role.name} belongs to`));
}

export const runtimeRoleCheck: DoctorCheck = {
  id: 'runtime-role',
  title: 'the runtime role is no superuser, owns no tenant table and cannot bypass RLS',
  async run(target) {
    // A superuser is a member of every role, so ownership would only repeat what it says.
    const attributes = target.rolesHere ? attributeFindings(target) : [];
    const owned = allPowerful(target.role) ? [] : await ownershipFindings(target);
    return {
      checked: (target.rolesHere ? 1 : 0) + target.tables.length,
      findings: [...attributes, ...owned],
    };
  },
};
