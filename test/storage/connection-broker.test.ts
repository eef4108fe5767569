// Checks the connection broker against a real Postgres server: ceiling, reuse, eviction, waits.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ConnectionBroker,
  type ConnectionBrokerOptions,
  type Lease,
} from '../../src/storage/drivers/pg/connection-broker.ts';

const baseUrl =
  process.env.TENANCY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const prefix = `tenancy_broker_${randomBytes(4).toString('hex')}`;
const names = Array.from({ length: 30 }, (_, i) => `${prefix}_${i}`);
const [dbA, dbB, dbC] = names as [string, string, string];
const admin = new pg.Client({ connectionString: baseUrl });
const brokers: ConnectionBroker[] = [];

function urlFor(database: string): string {
  const url = new URL(baseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function connect(database: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: urlFor(database) });
  await client.connect();
  return client;
}

function broker(options: Partial<ConnectionBrokerOptions> = {}): ConnectionBroker {
  const made = new ConnectionBroker({
    ceiling: 5, idleMillis: 30_000, acquireTimeoutMillis: 10_000, connect, ...options,
  });
  brokers.push(made);
  return made;
}

/** Open backends per test database, as the server sees them. */
async function backends(): Promise<Map<string, number[]>> {
  const { rows } = await admin.query<{ datname: string; pid: number }>(
    'select datname, pid from pg_stat_activity where starts_with(datname, $1)', [prefix],
  );
  const found = new Map<string, number[]>();
  for (const row of rows) found.set(row.datname, [...(found.get(row.datname) ?? []), row.pid]);
  return found;
}

async function total(): Promise<number> {
  let count = 0;
  for (const pids of (await backends()).values()) count += pids.length;
  return count;
}

async function pid(lease: Lease): Promise<number> {
  const { rows } = await lease.client.query<{ pid: number }>('select pg_backend_pid() as pid');
  return (rows[0] as { pid: number }).pid;
}

async function currentDatabase(lease: Lease): Promise<string> {
  const { rows } = await lease.client.query<{ db: string }>('select current_database() as db');
  return (rows[0] as { db: string }).db;
}

async function until(check: () => boolean | Promise<boolean>, millis = 5_000): Promise<void> {
  const deadline = Date.now() + millis;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A promise's state without waiting for it. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending');
  const winner = await Promise.race([promise.then(() => 1, () => 1), Promise.resolve(marker)]);
  return winner !== marker;
}

beforeAll(async () => {
  await admin.connect();
  for (const name of names) await admin.query(`create database "${name}"`);
}, 120_000);

afterEach(async () => {
  await Promise.all(brokers.splice(0).map((made) => made.close()));
});

afterAll(async () => {
  for (const name of names) await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.end();
}, 120_000);

describe('ConnectionBroker', () => {
  it('keeps 30 busy databases under a ceiling of 5 server connections', async () => {
    let peakAtConnect = 0;
    const made = broker({
      ceiling: 5,
      // Counting right after each new backend starts catches an old one that has not gone yet.
      connect: async (database) => {
        const client = await connect(database);
        const { rows } = await client.query<{ n: number }>(
          'select count(*)::int as n from pg_stat_activity where starts_with(datname, $1)',
          [prefix],
        );
        peakAtConnect = Math.max(peakAtConnect, (rows[0] as { n: number }).n);
        return client;
      },
    });
    let running = true;
    let maxBackends = 0;
    let maxOpen = 0;
    const sampler = (async () => {
      while (running) {
        maxBackends = Math.max(maxBackends, await total());
        maxOpen = Math.max(maxOpen, made.stats().open);
      }
    })();
    const work = names.flatMap((name) => [0, 1, 2, 3].map(async () => {
      const lease = await made.acquire(name);
      try {
        const seen = await currentDatabase(lease);
        await lease.client.query('select pg_sleep(0.005)');
        return seen === name;
      } finally {
        lease.release();
      }
    }));
    const results = await Promise.all(work);
    running = false;
    await sampler;

    expect(results).toHaveLength(120);
    expect(results.every(Boolean)).toBe(true);
    expect(maxBackends).toBeGreaterThan(0);
    expect(maxBackends).toBeLessThanOrEqual(5);
    expect(maxOpen).toBeLessThanOrEqual(5);
    expect(peakAtConnect).toBeGreaterThan(0);
    expect(peakAtConnect).toBeLessThanOrEqual(5);
    expect(await total()).toBeLessThanOrEqual(5);
    const stats = made.stats();
    expect(stats).toMatchObject({ active: 0, waiting: 0 });
    expect(stats.open).toBe(stats.idle);

    await made.close();
    expect(await total()).toBe(0);
    expect(made.stats()).toEqual({ open: 0, idle: 0, active: 0, waiting: 0, databases: 0 });
  }, 60_000);

  it('reuses an idle connection of the same database', async () => {
    const made = broker();
    const first = await made.acquire(dbA);
    const firstPid = await pid(first);
    first.release();
    expect(made.stats()).toEqual({ open: 1, idle: 1, active: 0, waiting: 0, databases: 1 });
    const second = await made.acquire(dbA);
    expect(second.client).toBe(first.client);
    expect(await pid(second)).toBe(firstPid);
    expect(made.stats()).toMatchObject({ open: 1, idle: 0, active: 1 });
    second.release();
  });

  it('evicts the idle connection of the least recently used other database', async () => {
    const made = broker({ ceiling: 2 });
    const a = await made.acquire(dbA);
    const pidA = await pid(a);
    a.release();
    const b = await made.acquire(dbB);
    b.release();
    const again = await made.acquire(dbA); // A is now the most recently used
    again.release();

    const c = await made.acquire(dbC);
    expect(await currentDatabase(c)).toBe(dbC);
    const seen = await backends();
    expect(seen.get(dbA)).toEqual([pidA]);
    expect(seen.get(dbB)).toBeUndefined();
    expect(seen.get(dbC)).toEqual([await pid(c)]);
    expect(made.stats()).toEqual({ open: 2, idle: 1, active: 1, waiting: 0, databases: 2 });
    c.release();
  });

  it('rejects a waiter with POOL_TIMEOUT and keeps serving the queue afterwards', async () => {
    const made = broker({ ceiling: 1, acquireTimeoutMillis: 200 });
    const held = await made.acquire(dbA);
    const started = Date.now();
    const late = expect(made.acquire(dbB)).rejects.toMatchObject({ code: 'POOL_TIMEOUT' });
    await until(() => made.stats().waiting === 1);
    await late;
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(made.stats()).toMatchObject({ waiting: 0, open: 1, active: 1 });

    held.release();
    const next = await made.acquire(dbB);
    expect(await currentDatabase(next)).toBe(dbB);
    expect(await backends()).toEqual(new Map([[dbB, [await pid(next)]]]));
    next.release();
  });

  it('serves a waiter for X by replacing a released connection of Y', async () => {
    const made = broker({ ceiling: 1 });
    const y = await made.acquire(dbA);
    const waiting = made.acquire(dbB);
    await until(() => made.stats().waiting === 1);
    expect(await settled(waiting)).toBe(false);
    y.release();
    const x = await waiting;
    expect(await currentDatabase(x)).toBe(dbB);
    expect(await backends()).toEqual(new Map([[dbB, [await pid(x)]]]));
    x.release();
  });

  it('ends a connection released with destroy and frees its slot; a second release is a no-op',
    async () => {
      const made = broker({ ceiling: 1 });
      const broken = await made.acquire(dbA);
      const brokenPid = await pid(broken);
      const waiting = made.acquire(dbA);
      await until(() => made.stats().waiting === 1);
      broken.release(true);
      const fresh = await waiting;
      expect(fresh.client).not.toBe(broken.client);
      const freshPid = await pid(fresh);
      expect(freshPid).not.toBe(brokenPid);
      expect(await backends()).toEqual(new Map([[dbA, [freshPid]]]));

      broken.release(); // must not put the dead client back or free the fresh one's slot
      broken.release(true);
      expect(made.stats()).toEqual({ open: 1, idle: 0, active: 1, waiting: 0, databases: 1 });
      fresh.release();
      fresh.release();
      expect(made.stats()).toEqual({ open: 1, idle: 1, active: 0, waiting: 0, databases: 1 });
    });

  it('ignores a stale release of a lease whose connection was handed on', async () => {
    const made = broker({ ceiling: 1 });
    const first = await made.acquire(dbA);
    first.release();
    const second = await made.acquire(dbA);
    expect(second.client).toBe(first.client);
    first.release(); // late duplicate from the first holder must not free the second's lease
    first.release(true);
    expect(made.stats()).toEqual({ open: 1, idle: 0, active: 1, waiting: 0, databases: 1 });
    const third = made.acquire(dbA);
    await until(() => made.stats().waiting === 1);
    expect(await settled(third)).toBe(false);
    expect(await currentDatabase(second)).toBe(dbA); // still usable by its holder
    second.release();
    (await third).release();
  });

  it('does not keep the process alive while a waiter waits', async () => {
    // Only the acquire timer exists here (connect never settles), so the child must exit early.
    const script = [
      "import { ConnectionBroker } from './src/storage/drivers/pg/connection-broker.ts';",
      'const broker = new ConnectionBroker({ ceiling: 1, idleMillis: 60000,',
      '  acquireTimeoutMillis: 60000, connect: () => new Promise(() => {}) });',
      'broker.acquire("a").catch(() => {}); broker.acquire("b").catch(() => {});',
    ].join('\n');
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: process.cwd(), stdio: 'inherit' });
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise((resolve) => child.on('exit', resolve));
    clearTimeout(killer);
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 30_000);

  it('opens a replacement only after the old backend has gone', async () => {
    let peakAtConnect = 0;
    const made = broker({
      ceiling: 2,
      connect: async (database) => {
        const client = await connect(database);
        // A slow goodbye widens the window in which a too-early replacement would show up.
        const end = client.end.bind(client);
        (client as { end: () => Promise<void> }).end = async () => {
          await new Promise((resolve) => setTimeout(resolve, 50));
          await end();
        };
        const { rows } = await client.query<{ n: number }>(
          'select count(*)::int as n from pg_stat_activity where starts_with(datname, $1)',
          [prefix],
        );
        peakAtConnect = Math.max(peakAtConnect, (rows[0] as { n: number }).n);
        return client;
      },
    });
    for (const name of names.slice(0, 6)) (await made.acquire(name)).release(); // evictions
    const held = await made.acquire(dbA);
    const other = await made.acquire(dbB);
    const waiting = made.acquire(dbC);
    await until(() => made.stats().waiting === 1);
    held.release(true); // destroy: the waiter must wait for the backend to exit
    (await waiting).release();
    other.release();
    expect(peakAtConnect).toBeGreaterThan(0);
    expect(peakAtConnect).toBeLessThanOrEqual(2);
  });

  it('rejects only the waiter whose connect fails and frees its slot', async () => {
    const made = broker({ ceiling: 1 });
    const held = await made.acquire(dbA);
    const failing = made.acquire(`${prefix}_missing`);
    const next = made.acquire(dbB);
    await until(() => made.stats().waiting === 2);
    held.release();
    await expect(failing).rejects.toMatchObject({ code: '3D000' }); // invalid_catalog_name
    const lease = await next;
    expect(await currentDatabase(lease)).toBe(dbB);
    expect(made.stats()).toEqual({ open: 1, idle: 0, active: 1, waiting: 0, databases: 1 });
    lease.release();
  });

  it('stops waiting when the signal aborts', async () => {
    const made = broker({ ceiling: 1 });
    const held = await made.acquire(dbA);
    const controller = new AbortController();
    const waiting = made.acquire(dbB, controller.signal);
    await until(() => made.stats().waiting === 1);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    expect(made.stats().waiting).toBe(0);
    await expect(made.acquire(dbB, AbortSignal.abort())).rejects.toMatchObject({
      name: 'AbortError',
    });
    held.release();
    expect(made.stats()).toMatchObject({ open: 1, idle: 1, waiting: 0 });
  });

  it('closes connections idle longer than idleMillis', async () => {
    const made = broker({ idleMillis: 100 });
    const lease = await made.acquire(dbA);
    lease.release();
    expect(await total()).toBe(1);
    await until(() => made.stats().open === 0);
    expect(await total()).toBe(0);
    expect(made.stats().databases).toBe(0);
  });

  it('drops an idle connection whose backend dies', async () => {
    const made = broker();
    const lease = await made.acquire(dbA);
    const oldPid = await pid(lease);
    lease.release();
    await admin.query('select pg_terminate_backend($1)', [oldPid]);
    await until(() => made.stats().open === 0);
    const fresh = await made.acquire(dbA);
    expect(await pid(fresh)).not.toBe(oldPid);
    fresh.release();
  });

  it('closeDatabase ends idle connections, waits for active ones and still serves new acquires',
    async () => {
      const made = broker({ ceiling: 3 });
      const [kept, parked] = [await made.acquire(dbA), await made.acquire(dbA)];
      const other = await made.acquire(dbB);
      other.release();
      parked.release();
      const closing = made.closeDatabase(dbA);
      await until(() => made.stats().open === 2); // the parked one's slot is free again
      expect((await backends()).get(dbA)).toEqual([await pid(kept)]);
      expect(await settled(closing)).toBe(false);

      const during = await made.acquire(dbA);
      expect(await currentDatabase(during)).toBe(dbA);
      kept.release();
      await closing;
      const seen = await backends();
      expect(seen.get(dbA)).toEqual([await pid(during)]);
      expect(seen.get(dbB)?.length).toBe(1);
      during.release();
      expect(made.stats()).toMatchObject({ open: 2, idle: 2, active: 0 });
    });

  it('bounds the closeDatabase wait by acquireTimeoutMillis', async () => {
    const made = broker({ acquireTimeoutMillis: 150 });
    const held = await made.acquire(dbA);
    const started = Date.now();
    await made.closeDatabase(dbA);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    held.release(); // no closer waits any more, so it is kept
    expect(made.stats()).toMatchObject({ open: 1, idle: 1 });
  });

  it('close() ends every connection, rejects waiters and later acquires with POOL_CLOSED',
    async () => {
      const made = broker({ ceiling: 2 });
      const active = await made.acquire(dbA);
      const idle = await made.acquire(dbB);
      idle.release();
      const stuck = await made.acquire(dbB); // reuses the idle one; now both slots are busy
      const waiting = made.acquire(dbC);
      await until(() => made.stats().waiting === 1);
      expect(await total()).toBe(2);

      const refused = expect(waiting).rejects.toMatchObject({ code: 'POOL_CLOSED' });
      await made.close();
      await refused;
      await expect(made.acquire(dbA)).rejects.toMatchObject({ code: 'POOL_CLOSED' });
      expect(await total()).toBe(0);
      active.release();
      stuck.release(true);
      expect(made.stats()).toEqual({ open: 0, idle: 0, active: 0, waiting: 0, databases: 0 });
    });

  it('close() waits for a connect in flight and ends it', async () => {
    let opened: pg.Client | undefined;
    const made = broker({
      connect: async (database) => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        opened = await connect(database);
        return opened;
      },
    });
    const refused = expect(made.acquire(dbA)).rejects.toMatchObject({ code: 'POOL_CLOSED' });
    await made.close();
    await refused;
    expect(opened).toBeDefined();
    expect(await total()).toBe(0);
    expect(made.stats().open).toBe(0);
  });
});
