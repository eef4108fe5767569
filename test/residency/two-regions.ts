// Two regions on two servers: `eu` on the machine's server (a fresh database per run) holding
// the catalog, `us` on a second server the suite starts. Each has its own key file and store.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigInput } from '../../src/config/schema.ts';
import { Tenancy, type OpenOptions, type TenancyError } from '../../src/index.ts';
import { onServer, serverAvailable, serverUrl, withDatabase } from '../support/drivers.ts';
import { startSecondServer, type SecondServer } from '../support/second-server.ts';

export interface TwoRegions {
  config: ConfigInput;
  dataDir: string;
  prefix: string;
  urls: { eu: string; us: string };
  /** Superuser SQL on a region's shared database, or on another database of its server. */
  sql<R extends object = Record<string, unknown>>(region: 'eu' | 'us', text: string,
    params?: unknown[], database?: string): Promise<R[]>;
  open(options?: OpenOptions, extra?: Partial<ConfigInput>): Promise<Tenancy>;
  cleanup(): Promise<void>;
}

/** Starts the second server and makes a fresh database on each. Fails under CI without pg. */
export async function twoRegions(): Promise<TwoRegions> {
  if (!await serverAvailable()) throw new Error('the Postgres server does not answer');
  const suffix = randomBytes(4).toString('hex');
  const prefix = `tr${suffix}_`;
  const database = `tenancy_res_${suffix}`;
  let second: SecondServer | undefined;
  const dataDir = await mkdtemp(join(tmpdir(), 'tenancy-res-'));
  try {
    second = await startSecondServer();
    await onServer(serverUrl, `CREATE DATABASE "${database}"`);
    await onServer(second.url, `CREATE DATABASE "${database}"`);
  } catch (err) {
    await second?.stop();
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const server = second;
  const urls = { eu: withDatabase(serverUrl, database), us: server.urlOf(database) };
  const config: ConfigInput = {
    dataDir, logLevel: 'silent', catalogRegion: 'eu', defaultRegion: 'eu',
    regions: {
      eu: { database: urls.eu, tenantDatabasePrefix: prefix,
        keys: { provider: 'local', file: join(dataDir, 'keys', 'eu.root') } },
      us: { database: urls.us, tenantDatabasePrefix: prefix,
        keys: { provider: 'local', file: join(dataDir, 'keys', 'us.root') } },
    },
  };
  const opened: Tenancy[] = [];
  return {
    config, dataDir, prefix, urls,
    sql: (region, text, params, other) =>
      onServer(other === undefined ? urls[region] : withDatabase(urls[region], other), text,
        params),
    async open(options, extra = {}) {
      const tenancy = await Tenancy.open({ ...config, ...extra }, options);
      opened.push(tenancy);
      return tenancy;
    },
    async cleanup() {
      await Promise.allSettled(opened.map((t) => t.close()));
      try {
        const dbs = await onServer<{ datname: string }>(serverUrl,
          'SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $2)',
          [database, prefix]);
        for (const { datname } of dbs) {
          await onServer(serverUrl, `DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
        }
      } finally {
        await server.stop();
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** The error a promise rejects with. */
export async function failure(work: Promise<unknown>): Promise<TenancyError> {
  try {
    await work;
  } catch (err) {
    return err as TenancyError;
  }
  throw new Error('expected a failure');
}
