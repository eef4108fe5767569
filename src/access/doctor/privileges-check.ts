// Check: the runtime role holds no right that outlives a transaction or skips row security:
// TEMP (a temporary table stays in the pooled session), CREATE, TRUNCATE, TRIGGER, REFERENCES.
import { allPowerful } from './facts.ts';
import {
  finding, qualifiedName, type CheckTarget, type DoctorCheck, type Finding,
} from './types.ts';

async function databaseFindings(target: CheckTarget): Promise<Finding[]> {
  const role = target.role.name;
  const rights = await target.tx.query<{ temp: boolean; create: boolean; public_create: boolean }>(
    `SELECT has_database_privilege($1, current_database(), 'TEMPORARY') AS temp,
            has_database_privilege($1, current_database(), 'CREATE') AS create,
            COALESCE((SELECT has_schema_privilege($1, oid, 'CREATE') FROM pg_namespace
                       WHERE nspname = 'public'), false) AS public_create`,
    [role],
  );
  const row = rights.rows[0];
  const problems: Array<[string, string]> = [];
  if (row?.temp) {
    problems.push(['database', `lets ${role} create temporary tables, which outlive the ` +
      'transaction on a pooled connection']);
  }
  if (row?.create) problems.push(['database', `lets ${role} create schemas`]);
  if (row?.public_create) problems.push(['schema public', `lets ${role} create objects`]);
  return problems.map(([subject, problem]) => finding(target, subject, problem));
}

async function layoutFindings(target: CheckTarget): Promise<Finding[]> {
  if (target.layouts.length === 0) return [];
  const schemas = await target.tx.query<{ name: string }>(
    `SELECT nspname AS name FROM pg_namespace
      WHERE nspname = ANY($1::text[]) AND has_schema_privilege($2, oid, 'CREATE')
      ORDER BY nspname`,
    [target.layouts, target.role.name],
  );
  return schemas.rows.map((row) => finding(target, `schema ${row.name}`,
    `lets ${target.role.name} create objects in a tenant layout`));
}

// TRUNCATE empties a table past every policy; TRIGGER and REFERENCES attach code or checks
// that see rows of every tenant.
const tableRights = ['TRUNCATE', 'TRIGGER', 'REFERENCES'] as const;

async function tableFindings(target: CheckTarget): Promise<Finding[]> {
  if (target.tables.length === 0) return [];
  const granted = await target.tx.query<{ schema: string; name: string; rights: string[] }>(
    `SELECT n.nspname AS schema, c.relname AS name,
            ARRAY(SELECT r FROM unnest($3::text[]) AS r
                   WHERE has_table_privilege($2, c.oid, r)) AS rights
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = ANY($1::oid[])
      ORDER BY n.nspname, c.relname`,
    [target.tables.map((t) => t.oid), target.role.name, [...tableRights]],
  );
  return granted.rows
    .filter((row) => row.rights.length > 0)
    .map((row) => finding(target, qualifiedName(row.schema, row.name),
      `grants ${row.rights.join(', ')} to ${target.role.name}`));
}

export const privilegesCheck: DoctorCheck = {
  id: 'privileges',
  title: 'the runtime role has no TEMP, CREATE, TRUNCATE, TRIGGER or REFERENCES right',
  async run(target) {
    // A superuser holds every right; the runtime-role check already reports that.
    if (!target.role.exists || allPowerful(target.role)) return { checked: 0, findings: [] };
    const findings = [
      ...await databaseFindings(target),
      ...await layoutFindings(target),
      ...await tableFindings(target),
    ];
    return { checked: 1 + target.layouts.length + target.tables.length, findings };
  },
};
