// Deleting a tenant drops its data in every isolation, including rows that a session which had
// begun before the deletion writes afterwards: no row of a deleted tenant may be left behind.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tenancy } from '../../src/index.ts';
import { openFresh, serverAvailable, tenantName } from '../support/drivers.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('deleting a row tenant while one of its sessions is in flight', () => {
  let opened: Awaited<ReturnType<typeof openFresh>> | undefined;

  beforeAll(async () => {
    if (!await serverAvailable()) throw new Error('the Postgres server does not answer');
    opened = await openFresh('pg');
  });
  afterAll(async () => {
    await opened?.close();
  });

  it('leaves none of its rows (nor their plaintext metadata) in the shared tables', async () => {
    const tenancy = opened?.tenancy as Tenancy;
    const id = tenantName('del-row');
    await tenancy.tenants.create({ id, isolation: 'row' });

    let deletionDone!: () => void;
    const deleted = new Promise<void>((resolve) => { deletionDone = resolve; });
    // Begun before the deletion; writes once it is over or after 3 s (a deletion that waits
    // for the session then sees the row).
    const session = tenancy.withTenant(id, async (t) => {
      await t.documents.list();
      await Promise.race([deleted, sleep(3000)]);
      return t.documents.create({ id: 'late', title: 'L', text: 'x',
        metadata: { email: 'someone@example.com' } });
    }).then(() => 'committed', () => 'refused');
    await sleep(200);
    await tenancy.tenants.delete(id);
    deletionDone();
    await session;

    expect((await tenancy.tenants.get(id)).status).toBe('deleted');
    const client = new pg.Client({ connectionString: opened?.deployment.databaseUrl });
    await client.connect();
    try {
      const left = await client.query(
        'SELECT id, metadata FROM tenancy_rows.documents WHERE tenant_id = $1', [id]);
      expect(left.rows).toEqual([]);
    } finally {
      await client.end();
    }
  });
});
