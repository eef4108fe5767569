// Fixtures of the restore suites: a deployment for each load style (PGlite's
// unnested arrays, COPY as a superuser admin, VALUES as an admin that obeys row-level security).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Tenancy, type OpenOptions } from '../../src/index.ts';
import { freshDeployment, serverUrl } from '../support/drivers.ts';

export type LoadStyle = 'arrays' | 'copy' | 'values';
export const loadStyles: readonly LoadStyle[] = ['arrays', 'copy', 'values'];

export interface Opened {
  readonly tenancy: Tenancy;
  /** Superuser SQL on the deployment's shared database (pg styles only). */
  readonly sql?: pg.Client;
  close(): Promise<void>;
}

/** A fresh deployment whose restores load rows by `style`. */
export async function openForStyle(style: LoadStyle, options: OpenOptions = {}):
  Promise<Opened> {
  if (style === 'arrays') {
    const deployment = await freshDeployment('pglite');
    const tenancy = await Tenancy.open(deployment.config, options);
    return { tenancy, close: async () => { await tenancy.close(); await deployment.cleanup(); } };
  }
  if (style === 'copy') {
    const deployment = await freshDeployment('pg');
    const tenancy = await Tenancy.open(deployment.config, options);
    const sql = new pg.Client({ connectionString: deployment.databaseUrl });
    await sql.connect();
    return {
      tenancy, sql,
      close: async () => { await sql.end(); await tenancy.close(); await deployment.cleanup(); },
    };
  }
  const suffix = randomBytes(4).toString('hex');
  const role = `tt${suffix}_owner`;
  const database = `tenancy_test_${suffix}`;
  const prefix = `tt${suffix}_`;
  const superuser = new pg.Client({ connectionString: serverUrl });
  await superuser.connect();
  await superuser.query(`CREATE ROLE "${role}" LOGIN CREATEDB CREATEROLE`);
  await superuser.query(`CREATE DATABASE "${database}" OWNER "${role}"`);
  const url = new URL(serverUrl);
  url.username = role;
  url.password = '';
  url.pathname = `/${database}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'tenancy-test-'));
  const tenancy = await Tenancy.open({
    dataDir,
    logLevel: 'silent',
    regions: { local: { database: url.toString(), tenantDatabasePrefix: prefix } },
  }, options);
  const admin = new URL(serverUrl);
  admin.pathname = `/${database}`;
  const sql = new pg.Client({ connectionString: admin.toString() });
  await sql.connect();
  return {
    tenancy, sql,
    close: async () => {
      await sql.end();
      await tenancy.close();
      const dbs = await superuser.query<{ datname: string }>(
        'SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $2)',
        [database, prefix]);
      for (const { datname } of dbs.rows) {
        await superuser.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      }
      const owned = await superuser.query<{ rolname: string }>(
        'SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)', [prefix]);
      for (const { rolname } of owned.rows) {
        await superuser.query(`DROP OWNED BY "${rolname}"`).catch(() => undefined);
        await superuser.query(`DROP ROLE IF EXISTS "${rolname}"`);
      }
      await superuser.end();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
