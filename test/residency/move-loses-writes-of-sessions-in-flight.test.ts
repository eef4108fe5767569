// A region move holds writes off by suspending the tenant, but a session that began before the
// suspension still commits afterwards: its write must not be lost or left in the old region.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput, Isolation } from '../../src/config/schema.ts';
import { Tenancy } from '../../src/index.ts';
import {
  onServer, serverAvailable, serverUrl, tenantName, withDatabase,
} from '../support/drivers.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('a region move and a session already in flight', () => {
  const suffix = randomBytes(4).toString('hex');
  const databases = { eu: `tenancy_atk_eu_${suffix}`, us: `tenancy_atk_us_${suffix}` };
  let dataDir = '';
  let tenancy: Tenancy | undefined;

  beforeAll(async () => {
    if (!await serverAvailable()) throw new Error('the Postgres server does not answer');
    dataDir = await mkdtemp(join(tmpdir(), 'tenancy-atk-move-'));
    for (const name of Object.values(databases)) {
      await onServer(serverUrl, `CREATE DATABASE "${name}"`);
    }
    const config: ConfigInput = {
      dataDir, logLevel: 'silent', catalogRegion: 'eu', defaultRegion: 'eu',
      regions: {
        eu: { database: withDatabase(serverUrl, databases.eu), tenantDatabasePrefix: `ae${suffix}_`,
          keys: { provider: 'local', file: join(dataDir, 'keys', 'eu.root') } },
        us: { database: withDatabase(serverUrl, databases.us), tenantDatabasePrefix: `au${suffix}_`,
          keys: { provider: 'local', file: join(dataDir, 'keys', 'us.root') } },
      },
    };
    tenancy = await Tenancy.open(config);
  });

  afterAll(async () => {
    await tenancy?.close();
    for (const name of Object.values(databases)) {
      await onServer(serverUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
        .catch(() => undefined);
    }
    if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
  });

  /** The tenant's rows (row isolation) or schema (schema isolation) left in eu. */
  async function leftInEu(id: string): Promise<number> {
    const [row] = await onServer<{ n: string }>(withDatabase(serverUrl, databases.eu), `SELECT
        (SELECT count(*) FROM pg_namespace WHERE nspname = $2)
      + (SELECT count(*) FROM tenancy_rows.documents WHERE tenant_id = $1) AS n`,
    [id, `tenant_${id}`]);
    return Number(row?.n);
  }

  for (const isolation of ['row', 'schema'] as Isolation[]) {
    it(`keeps or refuses, never loses, a ${isolation} tenant's write that commits during the move`,
      async () => {
        const t = tenancy as Tenancy;
        const id = tenantName(`mv-${isolation}`);
        await t.tenants.create({ id, isolation, region: 'eu' });
        await t.withTenant(id, (s) => s.documents.create({ id: 'early', title: 'E', text: 'e' }));

        let moveDone!: () => void;
        const moved = new Promise<void>((resolve) => { moveDone = resolve; });
        // A session that has begun (and read) before the move, and writes once the move is over
        // or after 3 s, whichever comes first (a move that waits for it then goes on).
        const session = t.withTenant(id, async (s) => {
          await s.documents.list();
          await Promise.race([moved, sleep(3000)]);
          await sleep(100);
          return s.documents.create({ id: 'late', title: 'L', text: 'written during the move' });
        }).then(() => 'committed' as const, () => 'refused' as const);
        await sleep(200);
        const move = t.tenants.move(id, { region: 'us' }, { settleMillis: 0 });
        const moveOutcome = await move.then(() => 'moved', () => 'failed');
        moveDone();
        const outcome = await session;

        const tenant = await t.tenants.get(id);
        const ids = (await t.withTenant(id, (s) => s.documents.list())).items.map((d) => d.id);
        if (outcome === 'committed') {
          // The client was told its write is stored: it must be where the tenant now lives.
          expect(ids, `move ${moveOutcome}, tenant in ${tenant.region}`).toContain('late');
        }
        expect(ids).toContain('early');
        if (tenant.region === 'us') expect(await leftInEu(id)).toBe(0);
      });
  }
});
