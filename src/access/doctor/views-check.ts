// Check: views in tenant schemas run as their caller (security_invoker), so the caller's
// row-level security applies; materialized views keep rows outside RLS and are refused.
import { finding, qualifiedName, type DoctorCheck } from './types.ts';

const truthy = new Set(['true', 'on', 'yes', '1', 't', 'y']);

export const viewsCheck: DoctorCheck = {
  id: 'views',
  title: 'views in tenant schemas have security_invoker; no materialized views',
  async run(target) {
    if (target.layouts.length === 0) return { checked: 0, findings: [] };
    const views = await target.tx.query<{ schema: string; name: string; kind: string;
      invoker: string | null }>(
      `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
              (SELECT lower(option_value) FROM pg_options_to_table(c.reloptions)
                WHERE option_name = 'security_invoker') AS invoker
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('v', 'm')
        ORDER BY n.nspname, c.relname`,
      [target.layouts],
    );
    const findings = views.rows.flatMap((view) => {
      const subject = qualifiedName(view.schema, view.name);
      if (view.kind === 'm') {
        return [finding(target, subject,
          'is a materialized view: its rows were read once, outside any tenant policy')];
      }
      if (view.invoker !== null && truthy.has(view.invoker)) return [];
      return [finding(target, subject,
        "is a view without security_invoker: it reads tables with its owner's rights")];
    });
    return { checked: views.rows.length, findings };
  },
};
