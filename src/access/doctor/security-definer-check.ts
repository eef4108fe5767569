// Check: no SECURITY DEFINER function is callable by the runtime role, apart from the ones
// Tenancy defines on purpose: such a function runs with its owner's rights, past RLS.
import { allPowerful } from './facts.ts';
import { isIntendedDefiner } from './intended-definers.ts';
import { finding, type DoctorCheck } from './types.ts';

// Objects below this oid come with PostgreSQL itself (FirstNormalObjectId); anything created
// afterwards, by an extension or by hand, is checked wherever it lives, pg_catalog included.
const firstUserOid = 16384;

export const securityDefinerCheck: DoctorCheck = {
  id: 'security-definer',
  title: 'no SECURITY DEFINER function is callable by the runtime role',
  async run(target) {
    // A missing role is reported by the runtime-role check; a superuser may call anything,
    // which that check reports too.
    if (!target.role.exists || allPowerful(target.role)) return { checked: 0, findings: [] };
    const found = await target.tx.query<{ schema: string; name: string; args: string;
      callable: boolean; pinned: boolean }>(
      `SELECT n.nspname AS schema, p.proname AS name,
              pg_get_function_identity_arguments(p.oid) AS args,
              has_function_privilege($1, p.oid, 'EXECUTE')
                AND has_schema_privilege($1, n.oid, 'USAGE') AS callable,
              EXISTS (SELECT 1 FROM unnest(p.proconfig) AS c(setting)
                       WHERE c.setting LIKE 'search\\_path=%') AS pinned
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.prosecdef AND p.oid >= $2
        ORDER BY n.nspname, p.proname`,
      [target.role.name, firstUserOid],
    );
    const findings = found.rows.filter((fn) => fn.callable).flatMap((fn) => {
      const signature = `${fn.name}(${fn.args})`;
      const subject = `${fn.schema}.${signature}`;
      if (!isIntendedDefiner(fn.schema, signature, target.layouts)) {
        return [finding(target, subject,
          `is SECURITY DEFINER and the runtime role ${target.role.name} may call it`)];
      }
      return fn.pinned ? [] : [finding(target, subject,
        'is an intended SECURITY DEFINER function but does not pin its search_path')];
    });
    return { checked: found.rows.length, findings };
  },
};
