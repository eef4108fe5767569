// Residency on the embedded default: the report and a region move between two PGlite regions.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tenancy } from '../../src/index.ts';
import { tenantName } from '../support/drivers.ts';
import { fill, snapshot } from './workload.ts';

describe('residency on PGlite', () => {
  let dataDir: string;
  let tenancy: Tenancy;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tenancy-res-lite-'));
    tenancy = await Tenancy.open({ dataDir, logLevel: 'silent', catalogRegion: 'eu',
      regions: { eu: { database: 'embedded' }, us: { database: 'embedded' } } });
  });
  afterAll(async () => {
    await tenancy?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('reports tenants in place and moves a database tenant between embedded regions',
    async () => {
      const row = tenantName('lite-row');
      const db = tenantName('lite-db');
      await tenancy.tenants.create({ id: row, isolation: 'row', region: 'us' });
      await tenancy.tenants.create({ id: db, isolation: 'database', region: 'eu' });
      await fill(tenancy, row, 'row');
      await fill(tenancy, db, 'db');
      const first = await tenancy.residency.report();
      expect(first.tenants.flatMap((t) => t.findings)).toEqual([]);
      expect(first.ok).toBe(true);
      expect(first.tenants.find((t) => t.tenantId === db)?.places
        .filter((p) => p.kind === 'rows').map((p) => [p.region, p.where, p.count]))
        .toEqual([['eu', `database tenancy_${db}`, 10]]);
      const before = await snapshot(tenancy, db, 'db');
      await tenancy.tenants.move(db, { region: 'us' }, { settleMillis: 0 });
      expect(await snapshot(tenancy, db, 'db')).toEqual(before);
      const after = await tenancy.residency.report(db);
      expect(after.ok).toBe(true);
      expect(after.tenants[0]?.places.filter((p) => p.kind !== 'catalog' && p.kind !== 'audit')
        .map((p) => p.region)).toEqual(['us', 'us', 'us']);
    });
});
