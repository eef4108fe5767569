// Background jobs on real queues (the Postgres table on both drivers, BullMQ on the machine's
// Redis): each job runs in a fresh scope of its own tenant, planted jobs without a usable tenant
// are dead-lettered unrun, and payloads stay in the tenant's region.
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BullmqQueue } from '../../src/jobs/bullmq-queue.ts';
import { Tenancy, type ConfigInput } from '../../src/index.ts';
import {
  freshDeployment, openFresh, serverAvailable, serverUrl, type DriverKind, type TestDeployment,
} from '../support/drivers.ts';

const pgUp = await serverAvailable();
const redisUrl = process.env.TENANCY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function redisAvailable(): Promise<boolean> {
  const probe = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0,
    connectTimeout: 2000, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch (err) {
    if (process.env.CI === 'true') throw new Error(`Redis does not answer under CI=true: ${err}`);
    return false;
  } finally {
    probe.disconnect();
  }
}
const redisUp = await redisAvailable();

async function waitFor(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const until = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Seen { n: number; job: string; scope: string; setting: string; titles: string[] }

const setups: { label: string; kind: DriverKind; adapter: 'postgres' | 'bullmq'; skip: boolean }[] =
  [
    { label: 'postgres queue on pglite', kind: 'pglite', adapter: 'postgres', skip: false },
    { label: 'postgres queue on pg', kind: 'pg', adapter: 'postgres', skip: !pgUp },
    { label: 'bullmq on redis', kind: 'pglite', adapter: 'bullmq', skip: !redisUp },
  ];

for (const setup of setups) {
  describe.skipIf(setup.skip)(`jobs: ${setup.label}`, () => {
    // A prefix of this run's own, so nothing of another run (or deployment) is touched.
    const prefix = `tt-${randomBytes(4).toString('hex')}`;
    let opened: Awaited<ReturnType<typeof openFresh>>;
    let tenancy: Tenancy;
    const a = `job-a-${randomBytes(2).toString('hex')}`;
    const b = `job-b-${randomBytes(2).toString('hex')}`;
    // A second tenant in the shared row tables: only the tenant setting keeps it apart from a.
    const c = `job-c-${randomBytes(2).toString('hex')}`;

    beforeAll(async () => {
      opened = await openFresh(setup.kind, {}, {
        jobs: { adapter: setup.adapter, redisUrl, prefix, maxAttempts: 2, pollMillis: 20 },
      });
      tenancy = opened.tenancy;
      await tenancy.tenants.create({ id: a, isolation: 'row' });
      await tenancy.tenants.create({ id: b, isolation: 'schema' });
      await tenancy.tenants.create({ id: c, isolation: 'row' });
      await tenancy.withTenant(a, async (t) => {
        await t.documents.create({ title: 'a1', text: 'a' });
        await t.documents.create({ title: 'a2', text: 'a' });
      });
      await tenancy.withTenant(b, (t) => t.documents.create({ title: 'b1', text: 'b' }));
      await tenancy.withTenant(c, (t) => t.documents.create({ title: 'c1', text: 'c' }));
    });

    afterAll(async () => {
      if (setup.adapter === 'bullmq' && tenancy !== undefined) {
        const adapter = tenancy.jobs.adapter as BullmqQueue;
        for (const name of ['alternate', 'plant', 'refuse']) await adapter.obliterate(name);
        const redis = new Redis(redisUrl);
        const left = await redis.keys(`${prefix}:*`);
        await redis.quit();
        expect(left).toEqual([]);
      }
      await opened?.close();
    });

    it("runs each job in a fresh scope of its own tenant, and a failure leaks nothing", async () => {
      const seen: Seen[] = [];
      const plan = [a, c, b, a, c, a, b, c];
      const failing = 3;
      for (const [n, tenant] of plan.entries()) {
        await tenancy.jobs.enqueue(tenant, 'alternate', { n, fail: n === failing });
      }
      const worker = tenancy.jobs.work('alternate', async (scope, job) => {
        const { n, fail } = job.payload as { n: number; fail: boolean };
        const titles = (await scope.documents.list()).items.map((d) => d.title).sort();
        const setting = await scope.session.query<{ t: string }>(
          "SELECT current_setting('tenancy.tenant_id') AS t");
        seen.push({ n, job: job.tenantId, scope: scope.tenantId, titles,
          setting: setting.rows[0]?.t ?? '' });
        if (fail) {
          await scope.documents.create({ id: `leak-${n}`, title: 'leak', text: 'leak' });
          throw new Error('the handler failed half way');
        }
      }, { concurrency: 1 });
      try {
        await waitFor(async () => (await tenancy.jobs.dead('alternate')).length === 1 &&
          seen.length === plan.length + 1, 'every job and the retry');
      } finally {
        await worker.close();
      }
      const own: Record<string, string[]> = { [a]: ['a1', 'a2'], [b]: ['b1'], [c]: ['c1'] };
      for (const entry of seen) {
        expect(entry.job).toBe(plan[entry.n]);
        expect(entry.scope).toBe(entry.job);
        expect(entry.setting).toBe(entry.job);
        expect(entry.titles).toEqual(own[entry.job]);
      }
      // One worker, one at a time, in order: tenants alternate from one job to the next.
      expect(seen.slice(0, 5).map((e) => e.job)).toEqual(plan.slice(0, 5));
      const afterFailure = seen[seen.findIndex((e) => e.n === failing) + 1];
      expect(afterFailure?.job).toBe(c);
      const [dead] = await tenancy.jobs.dead('alternate');
      expect(dead).toMatchObject({ tenantId: a, reason: 'JOB_FAILED', attempts: 2 });
      expect(await tenancy.withTenant(a, (t) => t.documents.get(`leak-${failing}`)))
        .toBeUndefined();
    });

    it('dead-letters planted jobs without a usable tenant and never runs them', async () => {
      const planted = ['Bad Tenant', "x'); DROP TABLE tenancy.jobs; --", 'ghost-tenant'];
      if (setup.adapter === 'postgres') {
        const shared = tenancy.regionOf(await tenancy.tenants.get(a)).driver.shared;
        for (const tenant of planted) {
          await shared.transaction('admin', (tx) => tx.query(
            "INSERT INTO tenancy.jobs (queue, tenant_id, payload) VALUES ('plant', $1, '{}')",
            [tenant]));
        }
        // A job without any tenant cannot even be stored.
        const missing = await shared.transaction('admin', (tx) => tx.query(
          "INSERT INTO tenancy.jobs (queue, payload) VALUES ('plant', '{}')")).catch((e) => e);
        expect((missing as { code?: string }).code).toBe('23502');
      } else {
        const queue = new Queue('local.plant', { connection: new Redis(redisUrl,
          { maxRetriesPerRequest: null }), prefix });
        await queue.add('plant', { payload: {} });
        for (const tenant of planted) await queue.add('plant', { tenantId: tenant, payload: {} });
        await queue.close();
        planted.unshift('(none)');
      }
      const sentinel = await tenancy.jobs.enqueue(b, 'plant', { sentinel: true });
      const handled: string[] = [];
      const worker = tenancy.jobs.work('plant', async (scope, job) => {
        handled.push(`${scope.tenantId}:${job.id}`);
      });
      try {
        await waitFor(async () => handled.length === 1 &&
          (await tenancy.jobs.dead('plant')).length === planted.length, 'the planted jobs');
      } finally {
        await worker.close();
      }
      expect(handled).toEqual([`${b}:${sentinel}`]);
      const dead = await tenancy.jobs.dead('plant');
      expect(dead.map((j) => [j.tenantId, j.reason]).sort()).toEqual(planted.map((t) => [
        t === 'ghost-tenant' ? t : null,
        t === '(none)' ? 'JOB_TENANT_REQUIRED' : t === 'ghost-tenant' ? 'TENANT_NOT_FOUND'
          : 'TENANT_ID_INVALID',
      ]).sort());
    });

    it('refuses at enqueue a job for no tenant or a deleted one', async () => {
      const gone = `job-gone-${randomBytes(2).toString('hex')}`;
      await tenancy.tenants.create({ id: gone, isolation: 'row' });
      await tenancy.tenants.delete(gone);
      await expect(tenancy.jobs.enqueue(gone, 'refuse', {})).rejects
        .toMatchObject({ code: 'TENANT_NOT_FOUND' });
      await expect(tenancy.jobs.enqueue(undefined as unknown as string, 'refuse', {})).rejects
        .toMatchObject({ code: 'JOB_TENANT_REQUIRED' });
      expect(await tenancy.jobs.dead('refuse')).toEqual([]);
    });
  });
}

describe.skipIf(!pgUp)('jobs keep their payload in the tenant region (postgres queue on pg)',
  () => {
    let deployment: TestDeployment;
    let tenancy: Tenancy;
    const urls: Record<string, string> = {};

    beforeAll(async () => {
      deployment = await freshDeployment('pg');
      const us = `${deployment.prefix}us`;
      const admin = new pg.Client({ connectionString: serverUrl });
      await admin.connect();
      await admin.query(`CREATE DATABASE "${us}"`);
      await admin.end();
      const usUrl = new URL(serverUrl);
      usUrl.pathname = `/${us}`;
      urls.eu = deployment.databaseUrl as string;
      urls.us = usUrl.toString();
      const config: ConfigInput = { ...deployment.config, catalogRegion: 'eu',
        jobs: { pollMillis: 20 }, regions: {
          eu: { database: urls.eu, tenantDatabasePrefix: deployment.prefix },
          us: { database: urls.us, tenantDatabasePrefix: `${deployment.prefix}u_` },
        } };
      tenancy = await Tenancy.open(config);
      await tenancy.tenants.create({ id: 'far-away', isolation: 'row', region: 'us' });
    });
    afterAll(async () => {
      await tenancy?.close();
      await deployment?.cleanup();
    });

    async function rows(region: string): Promise<{ tenant_id: string; status: string }[]> {
      const client = new pg.Client({ connectionString: urls[region] });
      await client.connect();
      try {
        return (await client.query<{ tenant_id: string; status: string }>(
          "SELECT tenant_id, status FROM tenancy.jobs WHERE queue = 'resident'")).rows;
      } finally {
        await client.end();
      }
    }

    it("stores a job in its tenant's region and refuses one planted in another", async () => {
      await tenancy.jobs.enqueue('far-away', 'resident', { note: 'stays in us' });
      expect(await rows('us')).toEqual([{ tenant_id: 'far-away', status: 'queued' }]);
      expect(await rows('eu')).toEqual([]);
      const client = new pg.Client({ connectionString: urls.eu });
      await client.connect();
      await client.query("INSERT INTO tenancy.jobs (queue, tenant_id, payload) " +
        "VALUES ('resident', 'far-away', '{}')");
      await client.end();
      const ran: string[] = [];
      const worker = tenancy.jobs.work('resident', async (scope) => {
        ran.push(scope.tenantId);
      });
      try {
        await waitFor(async () => ran.length === 1 &&
          (await tenancy.jobs.dead('resident')).length === 1, 'both jobs');
      } finally {
        await worker.close();
      }
      expect(ran).toEqual(['far-away']);
      expect(await tenancy.jobs.dead('resident')).toMatchObject([
        { region: 'eu', tenantId: 'far-away', reason: 'TENANT_REGION_MISMATCH' }]);
    });
  });
