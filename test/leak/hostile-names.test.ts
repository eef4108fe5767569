// Leak kit: hostile tenant ids are refused with TENANT_ID_INVALID at every door (library, admin
// HTTP, jobs) before any SQL or file path is built: catalog, databases, schemas, tables and the
// data folder stay exactly as they were, on both drivers and for every isolation asked for.
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isTenancyError } from '../../src/index.ts';
import { drivers, isolations } from '../support/drivers.ts';
import { admin, skipDriver, useApp } from '../http/harness.ts';

const hostile: readonly string[] = [
  "acme'; DROP TABLE tenancy_rows.documents; --", 'acme"', 'acme;', 'ac;me', "a'b'c",
  '..', '../acme', 'acme/..', 'acme/../../etc', 'a/b', '/acme', 'acme\\x', 'a%2Fb', 'a%2fb',
  '%2e%2e', 'public', 'pg_catalog', 'pg-catalog', 'information_schema', 'information-schema',
  'postgres', 'template1', 'pg-toast', 'Acme', 'ACME',
  // Look-alikes: Cyrillic a, fullwidth a, a zero-width space, a combining accent, dotless i.
  '\u0430cme', '\uff41cme', 'acme\u200b', 'acme\u0301', 'tenant-\u0131d',
  'acme ', ' acme', 'acme\n', 'acme\u0000', 'ac me', 'acme-', '-acme', 'ac--me', '1acme', 'ab',
  'a'.repeat(41), `a${'b'.repeat(62)}`, 'a'.repeat(10_000), '',
];

/** Names of everything under a folder, three levels deep: tenant folders live at that depth. */
async function folderNames(root: string, depth = 3): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, left: number): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      out.push(relative(root, path));
      if (entry.isDirectory() && left > 1) await walk(path, left - 1);
    }
  };
  await walk(root, depth);
  return out.sort();
}

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`hostile tenant ids on ${kind}`, () => {
    const d = useApp(kind);
    const witness = 'hn-witness';

    const prefix = (): string =>
      d.tenancy.config.regions.local?.tenantDatabasePrefix ?? 'tenancy_';

    /** Everything a refused id could have touched. */
    const state = async () => ({
      tenants: (await d.tenancy.tenants.list()).map((t) => `${t.id}:${t.status}`),
      server: await d.tenancy.withTenant(witness, async ({ session }) => ({
        // Other suites make databases on the same server: only this deployment's are compared.
        databases: (await session.query<{ name: string }>(
          `SELECT datname AS name FROM pg_database
            WHERE datname = current_database() OR starts_with(datname, $1) ORDER BY 1`,
          [prefix()])).rows.map((r) => r.name),
        schemas: (await session.query<{ name: string }>(
          'SELECT nspname AS name FROM pg_namespace ORDER BY 1')).rows.map((r) => r.name),
        tables: (await session.query<{ name: string }>(
          `SELECT n.nspname || '.' || c.relname AS name FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'v', 'm') AND n.nspname NOT IN ('pg_catalog',
              'information_schema') ORDER BY 1`)).rows.map((r) => r.name),
      })),
      folders: await folderNames(d.tenancy.config.dataDir),
    });

    beforeAll(async () => {
      await d.tenancy.tenants.create({ id: witness, isolation: 'row' });
    });

    it('refuses every hostile id at every library door and changes nothing', async () => {
      const before = await state();
      const codes: string[] = [];
      const codeOf = async (work: () => Promise<unknown>): Promise<string> => {
        try {
          await work();
          return 'ran';
        } catch (err) {
          return isTenancyError(err) ? err.code : `raw ${String(err)}`;
        }
      };
      for (const id of hostile) {
        for (const isolation of isolations) {
          codes.push(await codeOf(() => d.tenancy.tenants.create({ id, isolation })));
        }
        codes.push(await codeOf(() => d.tenancy.tenants.get(id)));
        codes.push(await codeOf(() => d.tenancy.withTenant(id, async () => 'ran')));
        codes.push(await codeOf(() => d.tenancy.tenants.suspend(id)));
        codes.push(await codeOf(() => d.tenancy.tenants.delete(id)));
        codes.push(await codeOf(() => d.tenancy.apiKeys.issue(id)));
        codes.push(await codeOf(() => d.tenancy.apiKeys.list(id)));
        codes.push(await codeOf(() => d.tenancy.jobs.enqueue(id, 'leak-kit-job')));
      }
      const jobCode = (i: number) => (hostile[Math.floor(i / 10)] === ''
        ? 'JOB_TENANT_REQUIRED' : 'TENANT_ID_INVALID');
      expect(codes).toEqual(codes.map((_, i) => (i % 10 === 9 ? jobCode(i) : 'TENANT_ID_INVALID')));
      expect(await state()).toEqual(before);
    });

    it('refuses every hostile id on the admin routes, however it is encoded', async () => {
      const before = await state();
      for (const id of hostile) {
        for (const isolation of isolations) {
          const res = await d.app.inject({ method: 'POST', url: '/admin/tenants',
            headers: admin, payload: { id, isolation } });
          expect(res.statusCode, JSON.stringify(id)).toBe(400);
          expect((res.json() as { error: { code: string } }).error.code)
            .toMatch(/^(TENANT_ID_INVALID|VALIDATION_FAILED)$/);
        }
        if (id === '') continue;
        for (const [method, suffix] of [['GET', ''], ['DELETE', ''], ['POST', '/suspend'],
          ['POST', '/keys'], ['GET', '/keys']] as const) {
          const url = `/admin/tenants/${encodeURIComponent(id)}${suffix}`;
          const res = await d.app.inject({ method, url, headers: admin });
          // A refused id (400), or a path that names no route once decoded (404): never 2xx.
          expect([400, 404], `${method} ${url}`).toContain(res.statusCode);
          if (res.statusCode === 400) {
            expect((res.json() as { error: { code: string } }).error.code)
              .toBe('TENANT_ID_INVALID');
          }
        }
      }
      expect(await state()).toEqual(before);
    });
  });
}
