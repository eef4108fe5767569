// On PGlite a move between `schema` and `row` reads the export into a file under the data
// folder before the import opens (both ends share one connection): the rows arrive whole and
// the file is gone afterwards, whether the move went through or was undone.
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tenancy } from '../../src/index.ts';
import { freshDeployment, tenantName, type TestDeployment } from '../support/drivers.ts';
import { picture, seedTenant } from '../backup/support.ts';

async function spills(dataDir: string): Promise<string[]> {
  return (await readdir(dataDir)).filter((name) => name.startsWith('spill-'));
}

describe('isolation moves on PGlite between schema and row', () => {
  let deployment: TestDeployment;
  let tenancy: Tenancy;
  beforeAll(async () => {
    deployment = await freshDeployment('pglite');
    tenancy = await Tenancy.open(deployment.config);
  });
  afterAll(async () => {
    await tenancy?.close();
    await deployment?.cleanup();
  });

  it('carry every row across through a spill file and leave no file behind', async () => {
    const id = tenantName('spill');
    await tenancy.tenants.create({ id, isolation: 'schema' });
    await seedTenant(tenancy, id, 20);
    const before = await picture(tenancy, id);
    await tenancy.tenants.move(id, { isolation: 'row' });
    expect((await tenancy.tenants.get(id)).isolation).toBe('row');
    expect(await picture(tenancy, id)).toEqual(before);
    await tenancy.tenants.move(id, { isolation: 'schema' });
    expect(await picture(tenancy, id)).toEqual(before);
    expect(await spills(deployment.dataDir)).toEqual([]);
  });

  it('leave no spill file when a move cut after the copy is undone', async () => {
    const id = tenantName('spill-fail');
    await tenancy.tenants.create({ id, isolation: 'schema' });
    await seedTenant(tenancy, id, 5);
    const before = await picture(tenancy, id);
    let failed = false;
    await tenancy.tenants.move(id, { isolation: 'row' }, {
      onStep: (step) => {
        if (step === 'copied') {
          failed = true;
          throw new Error('cut after the copy');
        }
      },
    }).catch(() => undefined);
    expect(failed).toBe(true);
    expect(await spills(deployment.dataDir)).toEqual([]);
    const now = await tenancy.tenants.get(id);
    expect([now.isolation, now.status]).toEqual(['schema', 'active']);
    expect(await picture(tenancy, id)).toEqual(before);
  });
});
