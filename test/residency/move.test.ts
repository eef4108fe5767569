// Moving a tenant between regions on two servers: copy, verify, switch, destroy the source; an
// interrupted move leaves the tenant whole in one region.
import { existsSync } from 'node:fs';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Isolation } from '../../src/config/schema.ts';
import type { Tenancy } from '../../src/index.ts';
import type { MoveStep } from '../../src/residency/move-ledger.ts';
import { tenantName } from '../support/drivers.ts';
import { failure, twoRegions, type TwoRegions } from './two-regions.ts';
import { fill, snapshot } from './workload.ts';

const isolations: readonly Isolation[] = ['row', 'schema', 'database'];

describe('tenants move --region on two servers', () => {
  let env: TwoRegions;
  let tenancy: Tenancy;

  beforeAll(async () => {
    env = await twoRegions();
    tenancy = await env.open();
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  /** Everything of the tenant on one region's server and store, but its audit records. */
  async function leftIn(region: 'eu' | 'us', id: string): Promise<number> {
    const [row] = await env.sql<{ n: string }>(region, `SELECT
        (SELECT count(*) FROM pg_namespace WHERE nspname = $2)
      + (SELECT count(*) FROM pg_database WHERE datname = $3)
      + (SELECT count(*) FROM tenancy_rows.conversations WHERE tenant_id = $1)
      + (SELECT count(*) FROM tenancy_rows.messages WHERE tenant_id = $1)
      + (SELECT count(*) FROM tenancy_rows.documents WHERE tenant_id = $1)
      + (SELECT count(*) FROM tenancy_rows.document_embeddings WHERE tenant_id = $1)
      + (SELECT count(*) FROM tenancy_keys.keyrings WHERE tenant_id = $1)
      + (SELECT count(*) FROM tenancy_keys.tenant_keys WHERE tenant_id = $1)
      + (SELECT count(*) FROM tenancy_keys.destroyed WHERE tenant_id = $1) AS n`,
    [id, `tenant_${id}`, `${env.prefix}${id}`]);
    return Number(row?.n);
  }

  for (const isolation of isolations) {
    it(`moves a ${isolation} tenant to us and leaves nothing in eu`, async () => {
      const id = tenantName(`mv-${isolation}`);
      await tenancy.tenants.create({ id, isolation, region: 'eu' });
      await fill(tenancy, id, 'moving');
      const before = await snapshot(tenancy, id, 'moving');
      const keysBefore = await tenancy.keys.status(id);
      const result = await tenancy.tenants.move(id, { region: 'us' }, { settleMillis: 0 });
      expect(result.moved).toBe(true);
      expect(result.tables.reduce((n, t) => n + t.rows, 0)).toBe(10);
      expect((await tenancy.tenants.get(id)).region).toBe('us');
      expect((await tenancy.tenants.get(id)).status).toBe('active');
      expect(await snapshot(tenancy, id, 'moving')).toEqual(before);
      const keysAfter = await tenancy.keys.status(id);
      expect(keysAfter.region).toBe('us');
      expect(keysAfter.masterKeyId).not.toBe(keysBefore.masterKeyId);
      expect(await leftIn('eu', id)).toBe(0);
      expect(await leftIn('us', id)).toBeGreaterThan(0);
      const report = await tenancy.residency.report(id);
      expect(report.tenants[0]?.findings).toEqual([]);
      expect(report.ok).toBe(true);
      const steps = await tenancy.audit.list({ tenantId: id, action: 'tenant.move*' });
      expect(steps.items.map((r) => r.action).reverse()).toEqual(['tenant.move.started',
        'tenant.move.copied', 'tenant.move.verified', 'tenant.move.switched',
        'tenant.move.source-destroyed', 'tenant.move']);
      // Writes work in the new region, and it can come back.
      await tenancy.withTenant(id, (t) => t.conversations.create({ id: 'c-3', title: 'later' }));
      await tenancy.tenants.move(id, { region: 'eu' }, { settleMillis: 0 });
      expect(await leftIn('us', id)).toBe(0);
      expect(await tenancy.withTenant(id, async (t) => (await t.conversations.get('c-3'))?.title))
        .toBe('later');
    });
  }

  const steps: MoveStep[] = ['started', 'copied', 'verified', 'switched', 'source-destroyed'];
  for (const step of steps) {
    it(`leaves the tenant whole in one region when the move fails after ${step}`, async () => {
      const id = tenantName(`cut-${step}`);
      await tenancy.tenants.create({ id, isolation: 'schema', region: 'eu' });
      await fill(tenancy, id, 'cut');
      const before = await snapshot(tenancy, id, 'cut');
      const err = await failure(tenancy.tenants.move(id, { region: 'us' }, {
        settleMillis: 0,
        onStep: (reached) => {
          if (reached === step) throw new Error(`stopped after ${step}`);
        },
      }));
      const home = steps.indexOf(step) < steps.indexOf('switched') ? 'eu' : 'us';
      const away = home === 'eu' ? 'us' : 'eu';
      expect(err.code).toBe('TENANT_MOVE_FAILED');
      expect(err.message).toBe(`tenant move failed at step ${step}; the tenant is whole in ` +
        `region ${home}`);
      const tenant = await tenancy.tenants.get(id);
      expect([tenant.region, tenant.status]).toEqual([home, 'active']);
      expect(await snapshot(tenancy, id, 'cut')).toEqual(before);
      expect(await leftIn(away, id)).toBe(0);
      expect((await tenancy.residency.report(id)).ok).toBe(true);
    });
  }

  it("keeps archives in the tenant's region, removes the source's on a move, and refuses " +
    'to restore an archive made in another region', async () => {
    const id = tenantName('arch');
    await tenancy.tenants.create({ id, isolation: 'row', region: 'eu' });
    await fill(tenancy, id, 'arch');
    const made = await tenancy.backups.create(id);
    const euStore = join(env.dataDir, 'backups', 'eu');
    const usStore = join(env.dataDir, 'backups', 'us');
    const places = async () => (await tenancy.residency.report(id)).tenants[0]?.places
      .filter((p) => p.kind === 'backups').map((p) => [p.region, p.where, p.count]);
    expect(await places()).toEqual([['eu', euStore, 1]]);
    const kept = join(env.dataDir, 'kept-archive');
    await cp(join(euStore, 'tenants', id), kept, { recursive: true });
    await tenancy.tenants.move(id, { region: 'us' }, { settleMillis: 0 });
    expect(await places()).toEqual([]);
    expect(existsSync(join(euStore, 'tenants', id))).toBe(false);
    // The eu archive, copied by hand into the us store, is refused before anything is read.
    await cp(kept, join(usStore, 'tenants', id), { recursive: true });
    const before = await snapshot(tenancy, id, 'arch');
    const err = await failure(tenancy.backups.restore(id, made.id));
    expect(err.code).toBe('RESIDENCY_VIOLATION');
    expect(err.message).toBe(`residency violation: tenant ${id} must stay in region us; ` +
      'backups in region eu refused');
    expect(await snapshot(tenancy, id, 'arch')).toEqual(before);
    const refused = await tenancy.audit.list({ tenantId: id, action: 'residency.refused' });
    expect(refused.items.map((r) => [r.region, r.outcome])).toEqual([['us', 'denied']]);
    await rm(join(usStore, 'tenants', id), { recursive: true });
    const fresh = await tenancy.backups.create(id);
    expect(fresh.location).toBe(usStore);
    expect(await places()).toEqual([['us', usStore, 1]]);
  });

  it('undoes a move whose process died before the switch, at the next move', async () => {
    const id = tenantName('crash');
    await tenancy.tenants.create({ id, isolation: 'database', region: 'eu' });
    await fill(tenancy, id, 'crash');
    const before = await snapshot(tenancy, id, 'crash');
    // The move stops for good after its copy, as if its process had been killed there.
    let stopped: () => void = () => {};
    const reached = new Promise<void>((resolve) => { stopped = resolve; });
    void tenancy.tenants.move(id, { region: 'us' }, { settleMillis: 0,
      onStep: (step) => step === 'copied' ? (stopped(), new Promise(() => {})) : undefined,
    }).catch(() => undefined);
    await reached;
    expect((await tenancy.tenants.get(id)).status).toBe('suspended');
    expect(await leftIn('us', id)).toBeGreaterThan(0);
    const next = await env.open();
    const result = await next.tenants.move(id, { region: 'eu' }, { settleMillis: 0 });
    expect(result.moved).toBe(false);
    const tenant = await next.tenants.get(id);
    expect([tenant.region, tenant.status]).toEqual(['eu', 'active']);
    expect(await leftIn('us', id)).toBe(0);
    expect(await snapshot(next, id, 'crash')).toEqual(before);
    const undone = await next.audit.list({ tenantId: id, action: 'tenant.move.undone' });
    expect(undone.items).toHaveLength(1);
    await next.close();
  });
});
