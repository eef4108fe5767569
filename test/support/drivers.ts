// Test fixtures: a fresh Tenancy per suite on PGlite (temp folder) or on the Postgres server
// (a fresh database and tenant-database prefix), cleaned up afterwards.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Tenancy, type OpenOptions } from '../../src/index.ts';
import type { ConfigInput, Isolation } from '../../src/config/schema.ts';

export type DriverKind = 'pglite' | 'pg';
export const drivers: readonly DriverKind[] = ['pglite', 'pg'];
export const isolations: readonly Isolation[] = ['row', 'schema', 'database'];

export const serverUrl =
  process.env.TENANCY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let serverChecked: Promise<boolean> | undefined;

/**
 * True when the Postgres server answers. Under CI=true a missing server is an error, not a skip.
 */
export function serverAvailable(): Promise<boolean> {
  serverChecked ??= (async () => {
    const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.end();
      return true;
    } catch (err) {
      if (process.env.CI === 'true') {
        throw new Error(`TENANCY_TEST_DATABASE_URL does not answer under CI=true: ${String(err)}`);
      }
      return false;
    }
  })();
  return serverChecked;
}

/** `url` pointed at another database of the same server. */
export function withDatabase(url: string, database: string): string {
  const next = new URL(url);
  next.pathname = `/${database}`;
  return next.toString();
}

/** Runs one statement on a short-lived connection to `url` and returns its rows. */
export async function onServer<R extends object>(url: string, text: string,
  params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}

export interface TestDeployment {
  kind: DriverKind;
  config: ConfigInput;
  dataDir: string;
  /** Admin URL of the fresh shared database (pg only). */
  databaseUrl?: string;
  /** Prefix of this run's tenant databases (pg only). */
  prefix: string;
  cleanup(): Promise<void>;
}

/** A fresh, empty deployment for one driver. */
export async function freshDeployment(kind: DriverKind, extra: Partial<ConfigInput> = {}):
  Promise<TestDeployment> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tenancy-test-'));
  const suffix = randomBytes(4).toString('hex');
  const prefix = `tt${suffix}_`;
  if (kind === 'pglite') {
    return {
      kind, dataDir, prefix,
      config: { dataDir, logLevel: 'silent', ...extra },
      cleanup: () => rm(dataDir, { recursive: true, force: true }),
    };
  }
  const database = `tenancy_test_${suffix}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  await admin.end();
  const databaseUrl = withDatabase(serverUrl, database);
  return {
    kind, dataDir, prefix, databaseUrl,
    config: {
      dataDir,
      logLevel: 'silent',
      regions: { local: { database: databaseUrl, tenantDatabasePrefix: prefix } },
      ...extra,
    },
    cleanup: async () => {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      const dbs = await client.query<{ datname: string }>(
        'SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $2)',
        [database, prefix],
      );
      for (const { datname } of dbs.rows) {
        await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      }
      await client.end();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Opens Tenancy on a fresh deployment; `close` closes it and drops everything it made. */
export async function openFresh(kind: DriverKind, options: OpenOptions = {},
  extra: Partial<ConfigInput> = {}): Promise<{ tenancy: Tenancy; deployment: TestDeployment;
    close(): Promise<void> }> {
  const deployment = await freshDeployment(kind, extra);
  const tenancy = await Tenancy.open(deployment.config, options);
  return {
    tenancy,
    deployment,
    close: async () => {
      await tenancy.close();
      await deployment.cleanup();
    },
  };
}

/** A tenant id unique to this run. */
export function tenantName(label: string): string {
  return `${label}-${randomBytes(3).toString('hex')}`;
}
