// A throwaway deployment on the Postgres server: fresh database, seeded tenants, dropped after.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Tenancy } from '../../src/index.ts';
import type { ConfigInput, Isolation } from '../../src/config/schema.ts';
import { connectionBudget, documentsPerTenant, tenantCounts } from './options.ts';

export interface BenchDeployment {
  /** The fresh shared database: catalog, row tables and tenant schemas. */
  database: string;
  /** Prefix of this run's tenant databases. */
  prefix: string;
  config: ConfigInput;
  tenants: Readonly<Record<Isolation, readonly string[]>>;
  /** The runtime role's URL for `database`, as Tenancy builds it (trust auth, no password). */
  runtimeUrl(database: string): string;
  drop(): Promise<void>;
}

export const runtimeRole = 'tenancy_runtime';

/** Ids of the documents every tenant is seeded with. */
export const seededDocumentIds: readonly string[] = Array.from(
  { length: documentsPerTenant },
  (_, i) => `doc-${String(i).padStart(3, '0')}`,
);

const seedText = 'Quarterly notes on the customer account. '.repeat(5);

function withPath(url: string, database: string): string {
  const next = new URL(url);
  next.pathname = `/${encodeURIComponent(database)}`;
  return next.toString();
}

async function admin<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>):
  Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/** Creates the database, opens Tenancy once to create and seed every tenant, then closes it. */
export async function createDeployment(
  serverUrl: string,
  isolations: readonly Isolation[],
  progress: (line: string) => void,
  signal?: AbortSignal,
): Promise<BenchDeployment> {
  const suffix = randomBytes(4).toString('hex');
  const database = `tenancy_bench_${suffix}`;
  const prefix = `tb${suffix}_`;
  const dataDir = await mkdtemp(join(tmpdir(), 'tenancy-bench-'));
  await admin(serverUrl, (client) => client.query(`CREATE DATABASE "${database}"`));
  const labels: Record<Isolation, string> = { row: 'row', schema: 'sch', database: 'db' };
  const tenants = Object.fromEntries(isolations.map((isolation) => [
    isolation,
    Array.from({ length: tenantCounts[isolation] },
      (_, i) => `${labels[isolation]}-${String(i).padStart(3, '0')}`),
  ])) as Record<Isolation, string[]>;
  const deployment: BenchDeployment = {
    database,
    prefix,
    tenants,
    config: {
      dataDir,
      logLevel: 'silent',
      regions: {
        bench: {
          database: withPath(serverUrl, database),
          tenantDatabasePrefix: prefix,
          runtimeRole,
          pool: { shared: connectionBudget, tenantDatabases: connectionBudget },
        },
      },
    },
    runtimeUrl(name) {
      const url = new URL(withPath(serverUrl, name));
      url.username = runtimeRole;
      url.password = '';
      return url.toString();
    },
    drop: () => dropDeployment(serverUrl, database, prefix, dataDir),
  };
  try {
    await seed(deployment, isolations, progress, signal);
    await settle(serverUrl, deployment, isolations.includes('database'));
  } catch (err) {
    await deployment.drop();
    throw err;
  }
  return deployment;
}

async function seed(
  deployment: BenchDeployment,
  isolations: readonly Isolation[],
  progress: (line: string) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  const tenancy = await Tenancy.open(deployment.config);
  try {
    for (const isolation of isolations) {
      const started = Date.now();
      const ids = deployment.tenants[isolation];
      // CREATE DATABASE is heavy on the server; a few at a time is as fast as many.
      await eachLimited(ids, isolation === 'database' ? 4 : 8, async (id) => {
        signal?.throwIfAborted();
        await tenancy.tenants.create({ id, isolation });
        await tenancy.withTenant(id, async (t) => {
          for (const docId of seededDocumentIds) {
            await t.documents.create({ id: docId, title: `Document ${docId}`, text: seedText });
          }
        });
      });
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      progress(`seeded ${ids.length} ${isolation} tenants x ${documentsPerTenant} documents ` +
        `in ${seconds} s`);
    }
  } finally {
    await tenancy.close();
  }
}

/**
 * Vacuums and analyzes every seeded database and forces a checkpoint, so neither autovacuum
 * nor a checkpoint of the seeding lands in the first measured phase (always a Tenancy one).
 */
async function settle(serverUrl: string, deployment: BenchDeployment, tenantDatabases: boolean):
  Promise<void> {
  const names = [deployment.database];
  if (tenantDatabases) {
    names.push(...deployment.tenants.database.map((id) => `${deployment.prefix}${id}`));
  }
  await eachLimited(names, 4, async (name) => {
    await admin(withPath(serverUrl, name), (client) => client.query('VACUUM ANALYZE'));
  });
  await admin(serverUrl, (client) => client.query('CHECKPOINT'));
}

async function dropDeployment(serverUrl: string, database: string, prefix: string,
  dataDir: string): Promise<void> {
  await admin(serverUrl, async (client) => {
    const found = await client.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $2)',
      [database, prefix],
    );
    for (const { datname } of found.rows) {
      await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    }
  });
  await rm(dataDir, { recursive: true, force: true });
}
