// Check: the server runs a release with every known row-level security bypass fixed.
import { missingRlsFixes } from './rls-fixes.ts';
import { finding, type DoctorCheck } from './types.ts';

/** `PostgreSQL 15.20`, or `PostgreSQL 18.6 (PGlite 0.5.14)` for the embedded build. */
export function serverLabel(version: string, full: string): string {
  const pglite = /\((PGlite [^)]+)\)/.exec(full);
  return pglite === null ? `PostgreSQL ${version}` : `PostgreSQL ${version} (${pglite[1]})`;
}

export const serverVersionCheck: DoctorCheck = {
  id: 'server-version',
  title: 'the server has the known row-level security bypass fixes',
  async run(target) {
    if (!target.clusterRoot) return { checked: 0, findings: [] };
    const found = await target.tx.query<{ num: string; version: string; full: string }>(
      `SELECT current_setting('server_version_num') AS num,
              current_setting('server_version') AS version, version() AS full`,
    );
    const row = found.rows[0];
    if (row === undefined) return { checked: 0, findings: [] };
    const label = serverLabel(row.version.split(' ')[0] ?? row.version, row.full);
    const missing = missingRlsFixes(Number.parseInt(row.num, 10));
    return {
      checked: 1,
      findings: missing === undefined ? [] : [finding(target, label, missing)],
      notes: [`${target.region}: ${label}`],
    };
  },
};
