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
  /**
   * Starts `COPY … FROM STDIN` (text format) on this transaction; only drivers that speak the
   * copy protocol have it. Nothing else may run on the transaction until the sink has ended
   * or been aborted.
   */
  copyFrom?(sql: string): CopySink;
}

/** The open end of a `COPY … FROM STDIN`. */
export interface CopySink {
  /** Sends text-format lines; resolves once the connection can take more. */
  write(data: string | Buffer): Promise<void>;
  /** Ends the copy; resolves with the rows the server stored, or throws its error. */
  end(): Promise<number>;
  /** Gives the copy up (the server discards it); the transaction can then roll back. */
  abort(): Promise<void>;
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
  /**
   * How many rows best travel in one insert: `values` (a multi-row VALUES list with one
   * parameter per value and bytea sent as binary; a server over a socket) or `arrays` (one
   * `text[]` parameter per column, unnested; the default, and the faster one in process).
   */
  readonly bulkInsert?: 'values' | 'arrays';
  /**
   * True when an admin transaction here may load tenant rows with COPY: the driver speaks the
   * copy protocol and the admin role is exempt from row-level security (superuser or
   * BYPASSRLS), which COPY FROM requires. Asked once per server.
   */
  adminCopies?(): Promise<boolean>;
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
