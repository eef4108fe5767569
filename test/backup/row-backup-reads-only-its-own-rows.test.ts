// In row isolation a tenant's rows share tables with every other tenant's. Its backup and its
// restore must read through the tenant_id indexes, not scan the whole table, or their time grows
// with the neighbours' data. Server statistics say which scans ran: each process's counts are
// flushed when its connections close, so every step below opens and closes its own Tenancy.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tenancy } from '../../src/index.ts';
import { freshDeployment, serverAvailable, type TestDeployment } from '../support/drivers.ts';
import { seedTenant } from './support.ts';

const pgAvailable = await serverAvailable();
const tables = ['conversations', 'messages', 'documents'];

describe.skipIf(!pgAvailable)('a row-isolation backup and restore', () => {
  let deployment: TestDeployment;

  async function withTenancy<T>(fn: (tenancy: Tenancy) => Promise<T>): Promise<T> {
    const tenancy = await Tenancy.open(deployment.config);
    try {
      return await fn(tenancy);
    } finally {
      await tenancy.close();
    }
  }

  /** Sequential scans of the shared tables so far, once every backend's counts are in. */
  async function seqScans(): Promise<number> {
    const client = new pg.Client({ connectionString: deployment.databaseUrl });
    await client.connect();
    try {
      // Backends flush their counts as they exit; wait until none of the pools' is left.
      for (let n = 0; n < 100; n += 1) {
        const busy = await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()`);
        if (busy.rows[0]?.n === 0) break;
        await new Promise((wake) => setTimeout(wake, 50));
      }
      await client.query('SELECT pg_stat_clear_snapshot()');
      const found = await client.query<{ n: string }>(
        `SELECT coalesce(sum(seq_scan), 0)::text AS n FROM pg_stat_user_tables
          WHERE schemaname = 'tenancy_rows' AND relname = ANY($1)`, [tables]);
      return Number(found.rows[0]?.n);
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    deployment = await freshDeployment('pg');
    await withTenancy(async (tenancy) => {
      for (const id of ['scan-own', 'scan-other']) {
        await tenancy.tenants.create({ id, isolation: 'row' });
        await seedTenant(tenancy, id, 40);
      }
    });
    // With fresh statistics the planner knows each tenant holds half of every table, the case
    // in which a scan of the whole table looks cheapest.
    const client = new pg.Client({ connectionString: deployment.databaseUrl });
    await client.connect();
    await client.query(`ANALYZE ${tables.map((t) => `tenancy_rows.${t}`).join(', ')}`);
    await client.end();
  });
  afterAll(async () => {
    await deployment?.cleanup();
  });

  it('never scans the shared tables whole', async () => {
    const opened = await seqScans();
    await withTenancy(async () => undefined);
    const control = (await seqScans()) - opened;

    const before = await seqScans();
    await withTenancy(async (tenancy) => {
      const { id } = await tenancy.backups.create('scan-own');
      await tenancy.backups.restore('scan-own', id);
    });
    expect((await seqScans()) - before).toBe(control);
  });
});
