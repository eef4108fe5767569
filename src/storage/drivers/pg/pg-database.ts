// One Postgres database reached through node-postgres: transactions on a leased connection.
import type pg from 'pg';
import type { Database, Queryable, Role, TransactionOptions } from '../../driver.ts';

export interface PgLease {
  readonly client: pg.ClientBase;
  release(destroy?: boolean): void;
}

export type PgLeaser = (role: Role, signal?: AbortSignal) => Promise<PgLease>;

function wrap(client: pg.ClientBase): Queryable {
  return {
    async query<R extends object>(sql: string, params?: readonly unknown[]) {
      // The extended protocol takes exactly one statement, so no text can smuggle in a second
      // one (a COMMIT that ends the tenant's transaction, say). node-postgres picks it by itself
      // when there are values; passing them apart skips the copy it makes of a config object,
      // a cost paid on every statement.
      const values = params as unknown[] | undefined;
      const result = values !== undefined && values.length > 0
        ? await client.query<R & pg.QueryResultRow>(sql, values)
        : await client.query<R & pg.QueryResultRow>(
          { text: sql, values, queryMode: 'extended' } as pg.QueryConfig);
      return { rows: result.rows as R[], rowCount: result.rowCount ?? result.rows.length };
    },
    async exec(sql: string) {
      await client.query(sql);
    },
  } as Queryable;
}

export class PgDatabase implements Database {
  readonly cancelsSlowStatements = true;
  readonly #lease: PgLeaser;

  constructor(readonly name: string, lease: PgLeaser) {
    this.#lease = lease;
  }

  async transaction<T>(
    role: Role,
    fn: (tx: Queryable) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    options.signal?.throwIfAborted();
    const lease = await this.#lease(role, options.signal);
    // Unless the transaction ends with a confirmed COMMIT or ROLLBACK, the connection's state
    // is unknown and it is destroyed rather than handed to the next tenant.
    let clean = false;
    try {
      // A request cancelled while it queued for a connection starts no transaction at all.
      if (options.signal?.aborted === true) {
        clean = true;
        options.signal.throwIfAborted();
      }
      await lease.client.query('BEGIN');
      let result: T;
      try {
        result = await fn(wrap(lease.client));
        options.signal?.throwIfAborted();
      } catch (err) {
        await lease.client.query('ROLLBACK');
        clean = true;
        throw err;
      }
      await lease.client.query('COMMIT');
      clean = true;
      return result;
    } finally {
      lease.release(!clean);
    }
  }

  async exec(sql: string): Promise<void> {
    const lease = await this.#lease('admin');
    let clean = false;
    try {
      await lease.client.query(sql);
      clean = true;
    } finally {
      lease.release(!clean);
    }
  }
}
