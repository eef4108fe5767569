// The server driver: node-postgres pools for the shared database, a broker for tenant databases.
import pg from 'pg';
import type { RegionDriver, Role } from '../../driver.ts';
import { createRoleSql, helperSchemaSql } from '../../bootstrap.ts';
import { quoteIdent } from '../../sql.ts';
import type { ConnectionString, Secret } from '../../../config/secret.ts';
import { ConnectionBroker } from './connection-broker.ts';
import { PgDatabase, type PgLease } from './pg-database.ts';

export interface PgDriverOptions {
  /** Admin URL: owns the tables, runs DDL and the catalog. */
  database: ConnectionString;
  /** Where runtime connections go (a pooler, say); defaults to `database`. */
  runtimeDatabase?: ConnectionString | undefined;
  runtimeRole: string;
  runtimePassword?: Secret | undefined;
  sharedPoolSize: number;
  tenantDatabaseCeiling: number;
  idleMillis: number;
  acquireTimeoutMillis: number;
}

function poolLease(pool: pg.Pool): () => Promise<PgLease> {
  return async () => {
    const client = await pool.connect();
    return {
      client,
      release: (destroy?: boolean) => client.release(destroy === true ? true : undefined),
    };
  };
}

export class PgRegionDriver implements RegionDriver {
  readonly kind = 'pg';
  readonly runtimeRole: string;
  readonly shared: PgDatabase;
  readonly #options: PgDriverOptions;
  readonly #adminPool: pg.Pool;
  #bypass: Promise<boolean> | undefined;
  readonly #runtimePool: pg.Pool;
  readonly #broker: ConnectionBroker;

  constructor(options: PgDriverOptions) {
    this.#options = options;
    this.runtimeRole = options.runtimeRole;
    const admin = options.database.reveal();
    this.#adminPool = new pg.Pool({
      connectionString: admin,
      max: 4,
      idleTimeoutMillis: options.idleMillis,
    });
    this.#runtimePool = new pg.Pool({
      connectionString: this.#runtimeUrl(options.database.database),
      max: options.sharedPoolSize,
      idleTimeoutMillis: options.idleMillis,
      connectionTimeoutMillis: options.acquireTimeoutMillis,
    });
    // An idle pooled client that loses its server must not crash the process.
    this.#adminPool.on('error', () => {});
    this.#runtimePool.on('error', () => {});
    this.#broker = new ConnectionBroker({
      ceiling: options.tenantDatabaseCeiling,
      idleMillis: options.idleMillis,
      acquireTimeoutMillis: options.acquireTimeoutMillis,
      connect: async (database: string) => {
        const client = new pg.Client({ connectionString: this.#runtimeUrl(database) });
        client.on('error', () => {});
        await client.connect();
        return client;
      },
    });
    const adminLease = poolLease(this.#adminPool);
    const runtimeLease = poolLease(this.#runtimePool);
    this.shared = new PgDatabase(options.database.database, (role: Role) =>
      role === 'admin' ? adminLease() : runtimeLease(), () => this.#adminBypassesRls());
  }

  /** Whether the admin role is exempt from row-level security; one question per server. */
  #adminBypassesRls(): Promise<boolean> {
    this.#bypass ??= this.#adminPool.query<{ exempt: boolean }>(
      'SELECT rolsuper OR rolbypassrls AS exempt FROM pg_roles WHERE rolname = current_user')
      .then((r) => r.rows[0]?.exempt === true, (err: unknown) => {
        this.#bypass = undefined;
        throw err;
      });
    return this.#bypass;
  }

  async bootstrap(): Promise<void> {
    const lease = await poolLease(this.#adminPool)();
    try {
      await lease.client.query(createRoleSql(this.runtimeRole, true));
      const password = this.#options.runtimePassword;
      if (password !== undefined) {
        // The password travels as a bound parameter, then moves into the DDL server-side.
        await lease.client.query('BEGIN');
        await lease.client.query("SELECT set_config('tenancy.bootstrap_secret', $1, true)", [
          password.reveal(),
        ]);
        await lease.client.query(`DO $$ BEGIN EXECUTE format('ALTER ROLE %I PASSWORD %L',
          ${pgLiteral(this.runtimeRole)}, current_setting('tenancy.bootstrap_secret')); END $$`);
        await lease.client.query('COMMIT');
      }
      await lease.client.query(helperSchemaSql(this.runtimeRole));
      await lease.client.query(this.#grantConnectSql(this.shared.name));
    } finally {
      lease.release();
    }
  }

  tenantDatabase(name: string): PgDatabase {
    return new PgDatabase(name, async (role: Role, signal?: AbortSignal) => {
      if (role === 'runtime') return this.#broker.acquire(name, signal);
      return this.#adminClient(name);
    }, () => this.#adminBypassesRls());
  }

  async createDatabase(name: string): Promise<void> {
    const db = quoteIdent(name);
    await this.#adminPool.query(`CREATE DATABASE ${db}`);
    await this.#adminPool.query(`REVOKE ALL ON DATABASE ${db} FROM PUBLIC`);
    await this.#adminPool.query(this.#grantConnectSql(name));
    const lease = await this.#adminClient(name);
    try {
      await lease.client.query(helperSchemaSql(this.runtimeRole));
    } finally {
      lease.release();
    }
  }

  async dropDatabase(name: string): Promise<void> {
    await this.#broker.closeDatabase(name);
    await this.#adminPool.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  }

  async databaseExists(name: string): Promise<boolean> {
    const result = await this.#adminPool.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      name,
    ]);
    return result.rowCount === 1;
  }

  async close(): Promise<void> {
    await Promise.allSettled([
      this.#broker.close(), this.#adminPool.end(), this.#runtimePool.end(),
    ]);
  }

  #grantConnectSql(database: string): string {
    return `GRANT CONNECT ON DATABASE ${quoteIdent(database)} TO ${quoteIdent(this.runtimeRole)}`;
  }

  /** The runtime role's URL for `database`; a configured runtimeDatabase keeps its own user. */
  #runtimeUrl(database: string): string {
    const runtime = this.#options.runtimeDatabase;
    const url = new URL((runtime ?? this.#options.database).reveal());
    if (runtime === undefined) {
      url.username = this.runtimeRole;
      url.password = this.#options.runtimePassword?.reveal() ?? '';
    }
    url.pathname = `/${encodeURIComponent(database)}`;
    return url.toString();
  }

  async #adminClient(database: string): Promise<PgLease> {
    const url = new URL(this.#options.database.reveal());
    url.pathname = `/${encodeURIComponent(database)}`;
    const client = new pg.Client({ connectionString: url.toString() });
    client.on('error', () => {});
    await client.connect();
    return { client, release: () => void client.end().catch(() => {}) };
  }
}

/** Quotes a fixed, validated SQL identifier as a literal for format() inside a DO block. */
function pgLiteral(value: string): string {
  quoteIdent(value);
  return `'${value}'`;
}
