// The contract every driver (PGlite, node-postgres) meets: databases, roles and transactions.

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  query<R extends object = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>>;
  /** Runs a script of several statements without parameters (migrations, DDL). */
  exec(sql: string): Promise<void>;
}

/**
 * `runtime` is the role tenant sessions run as (no superuser, no ownership, no BYPASSRLS);
 * `admin` owns the tables and runs DDL, the catalog and lifecycle work.
 */
export type Role = 'runtime' | 'admin';

export interface TransactionOptions {
  signal?: AbortSignal | undefined;
}

export interface Database {
  readonly name: string;
  /**
   * Runs `fn` inside one transaction as `role`; commits when it resolves, rolls back when it
   * throws. A connection whose state is unknown afterwards is destroyed, never reused.
   */
  transaction<T>(role: Role, fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions):
    Promise<T>;
  /** Runs an admin script (several statements, no parameters) outside a transaction. */
  exec(sql: string): Promise<void>;
  /**
   * True when the server stops a statement that outlives `statement_timeout` on its own;
   * otherwise (PGlite) the session can only fail such a statement once it has ended.
   */
  readonly cancelsSlowStatements?: boolean;
}

/** One region's Postgres: its shared database plus the tenant databases of `database` isolation. */
export interface RegionDriver {
  readonly kind: 'pg' | 'pglite';
  readonly runtimeRole: string;
  readonly shared: Database;
  /** Creates the runtime role and the `tenancy` helper schema in the shared database. */
  bootstrap(): Promise<void>;
  /** A handle on a tenant database; connections open lazily and are pooled under one ceiling. */
  tenantDatabase(name: string): Database;
  /** Creates a tenant database with the helper schema in place. */
  createDatabase(name: string): Promise<void>;
  dropDatabase(name: string): Promise<void>;
  databaseExists(name: string): Promise<boolean>;
  close(): Promise<void>;
}
