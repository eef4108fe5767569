// Fixtures of the core suites: one deployment per driver per describe block, admin SQL, errors.
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, expect } from 'vitest';
import type { ConfigInput } from '../../src/config/schema.ts';
import {
  Tenancy, TenancyError, type ErrorCode, type OpenOptions,
} from '../../src/index.ts';
import {
  freshDeployment, serverAvailable, serverUrl, type DriverKind, type TestDeployment,
} from '../support/drivers.ts';

/** False when the Postgres server does not answer (outside CI): the pg suites skip. */
export const pgAvailable = await serverAvailable();

/** True when the suites of `kind` cannot run here. */
export function skipDriver(kind: DriverKind): boolean {
  return kind === 'pg' && !pgAvailable;
}

export const runtimeRole = 'tenancy_runtime';

type RegionInput = NonNullable<ConfigInput['regions']>[string];

export type AdminQuery = <R extends object = Record<string, unknown>>(
  sql: string, params?: unknown[]) => Promise<R[]>;

export interface Deployed {
  /** The open Tenancy; replaced by `reopen` and by `admin` on PGlite. */
  readonly tenancy: Tenancy;
  readonly deployment: TestDeployment;
  /** The config the deployment was opened with, region tuning included. */
  readonly config: ConfigInput;
  /** Closes and opens the same deployment again, with other options if given. */
  reopen(options?: OpenOptions): Promise<Tenancy>;
  /** Closes Tenancy without reopening it (a test that opens it itself). */
  close(): Promise<void>;
  /**
   * Runs `fn` with superuser SQL on the region's shared database. On PGlite the folder is
   * locked by the open Tenancy, so it is closed for the duration and reopened afterwards.
   */
  admin<T>(fn: (query: AdminQuery) => Promise<T>): Promise<T>;
}

/** The deployment's config with settings merged into region `local`. */
function tuned(deployment: TestDeployment, region: Partial<RegionInput>): ConfigInput {
  const base: RegionInput = deployment.config.regions?.local ?? { database: 'embedded' };
  return { ...deployment.config, regions: { local: { ...base, ...region } } };
}

/**
 * Opens a fresh deployment of `kind` before the describe block's tests and drops it after.
 * `region` tunes region `local` (pool sizes, say) on either driver.
 */
export function useDeployment(kind: DriverKind, options: OpenOptions = {},
  region: Partial<RegionInput> = {}): Deployed {
  let tenancy: Tenancy | undefined;
  let deployment: TestDeployment | undefined;
  let config: ConfigInput | undefined;
  let openOptions = options;
  const must = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the deployment is not open');
    return value;
  };
  const deployed: Deployed = {
    get tenancy() { return must(tenancy); },
    get deployment() { return must(deployment); },
    get config() { return must(config); },
    async reopen(next) {
      await tenancy?.close();
      tenancy = undefined;
      openOptions = next ?? openOptions;
      tenancy = await Tenancy.open(must(config), openOptions);
      return tenancy;
    },
    async close() {
      await tenancy?.close();
      tenancy = undefined;
    },
    async admin(fn) {
      const current = must(deployment);
      if (current.kind === 'pg') {
        const client = new pg.Client({ connectionString: current.databaseUrl });
        await client.connect();
        try {
          return await fn(async (sql, params) => (await client.query(sql, params)).rows);
        } finally {
          await client.end();
        }
      }
      await deployed.close();
      const db = await PGlite.create(join(current.dataDir, 'regions', 'local', 'shared'));
      try {
        return await fn(async <R extends object>(sql: string, params?: unknown[]) =>
          (await db.query<R>(sql, params)).rows);
      } finally {
        await db.close();
        await deployed.reopen();
      }
    },
  };
  beforeAll(async () => {
    deployment = await freshDeployment(kind);
    config = tuned(deployment, region);
    tenancy = await Tenancy.open(config, options);
  });
  afterAll(async () => {
    await tenancy?.close();
    await deployment?.cleanup();
  });
  return deployed;
}

/** A pg client logged in as the runtime role (trust auth) to `database`, outside the library. */
export async function runtimeClient(database: string): Promise<pg.Client> {
  const url = new URL(serverUrl);
  url.username = runtimeRole;
  url.password = '';
  url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  return client;
}

/** Awaits `work`, expects a TenancyError with `code`, and returns it for further checks. */
export async function expectCode(work: Promise<unknown> | (() => unknown), code: ErrorCode):
  Promise<TenancyError> {
  let caught: unknown;
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(TenancyError);
  expect((caught as TenancyError).code).toBe(code);
  return caught as TenancyError;
}

/** The schema holding a tenant's tables in `isolation`. */
export function schemaOf(isolation: string, tenant: string): string {
  return isolation === 'row' ? 'tenancy_rows' : `tenant_${tenant}`;
}

/** Awaits the SQLSTATE a raw pg query fails with; undefined when it succeeds. */
export async function sqlStateOf(work: Promise<unknown>): Promise<string | undefined> {
  try {
    await work;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}
