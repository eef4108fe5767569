// pg only: database-isolated tenants share one connection ceiling, as the server itself sees it.
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { serverUrl } from '../support/drivers.ts';
import { runtimeRole, skipDriver, useDeployment } from './harness.ts';

const ceiling = 3;
const tenantCount = 12;
const sessionsPerTenant = 4;

describe.skipIf(skipDriver('pg'))('tenant database connection ceiling on pg', () => {
  const d = useDeployment('pg', {}, { pool: { tenantDatabases: ceiling } });
  const ids = Array.from({ length: tenantCount }, (_, i) => `cap-${String(i).padStart(2, '0')}`);

  beforeAll(async () => {
    for (const id of ids) await d.tenancy.tenants.create({ id, isolation: 'database' });
  });

  it(`never opens more than ${ceiling} runtime backends across ${tenantCount} databases`,
    async () => {
      const watcher = new pg.Client({ connectionString: serverUrl });
      await watcher.connect();
      const samples: number[] = [];
      const databases = new Set<string>();
      let running = true;
      const watch = (async () => {
        while (running) {
          const { rows } = await watcher.query<{ datname: string }>(
            `select datname from pg_stat_activity
              where usename = $1 and starts_with(datname, $2)`,
            [runtimeRole, d.deployment.prefix]);
          samples.push(rows.length);
          for (const row of rows) databases.add(row.datname);
        }
      })();
      try {
        const sessions = ids.flatMap((id) => Array.from({ length: sessionsPerTenant }, (_, n) =>
          d.tenancy.withTenant(id, async (t) => {
            // Holding the connection a moment keeps every slot of the ceiling busy.
            await t.session.query('select pg_sleep(0.02)');
            await t.documents.create({ title: `${id}#${n}`, text: '' });
            return (await t.documents.list()).items.map((doc) => doc.title);
          })));
        const seen = await Promise.all(sessions);
        seen.forEach((titles, i) => {
          const id = ids[Math.floor(i / sessionsPerTenant)] as string;
          expect(titles.every((title) => title.startsWith(`${id}#`))).toBe(true);
        });
      } finally {
        running = false;
        await watch;
        await watcher.end();
      }
      expect(samples.length).toBeGreaterThan(10);
      expect(Math.max(...samples)).toBe(ceiling);
      // The ceiling was shared out over the tenants' databases, not held by a few of them.
      expect(databases.size).toBe(tenantCount);
      for (const id of ids) {
        const count = await d.tenancy.withTenant(id, async (t) =>
          (await t.documents.list()).items.length);
        expect(count).toBe(sessionsPerTenant);
      }
    });
});
