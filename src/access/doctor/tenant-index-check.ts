// Check: every tenant table has an index that leads with tenant_id, so the tenant policy can
// drive an index scan instead of reading every tenant's rows.
import { finding, qualifiedName, type DoctorCheck } from './types.ts';

export const tenantIndexCheck: DoctorCheck = {
  id: 'tenant-index',
  title: 'every tenant table has an index whose first column is tenant_id',
  async run(target) {
    if (target.tables.length === 0) return { checked: 0, findings: [] };
    const missing = await target.tx.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = ANY($1::oid[])
          AND NOT EXISTS (
            SELECT 1 FROM pg_index i JOIN pg_attribute a
                ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
             WHERE i.indrelid = c.oid AND a.attname = 'tenant_id')
        ORDER BY n.nspname, c.relname`,
      [target.tables.map((t) => t.oid)],
    );
    const findings = missing.rows.map((row) => finding(target, qualifiedName(row.schema, row.name),
      'has no index whose first column is tenant_id'));
    return { checked: target.tables.length, findings };
  },
};
