// One Postgres database reached through node-postgres: transactions on a leased connection.
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFromStdin } from 'pg-copy-streams';
import type { CopySink, Database, Queryable, Role, TransactionOptions } from '../../driver.ts';

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
    copyFrom(sql: string) {
      return copySink(client, sql);
    },
  } as Queryable;
}

function copySink(client: pg.ClientBase, sql: string): CopySink {
  const stream = client.query(copyFromStdin(sql));
  let failure: unknown;
  stream.on('error', (err: unknown) => { failure ??= err; });
  return {
    async write(data) {
      if (failure !== undefined) throw failure;
      // `once` rejects if the server's error arrives while waiting.
      if (!stream.write(data)) await once(stream, 'drain');
    },
    async end() {
      if (failure !== undefined) throw failure;
      stream.end();
      await finished(stream);
      return stream.rowCount;
    },
    async abort() {
      if (stream.writableFinished || stream.destroyed) return;
      // Sends CopyFail; the server answers with an error and the connection is usable again.
      stream.destroy();
      await finished(stream).catch(() => undefined);
    },
  };
}

export class PgDatabase implements Database {
  readonly cancelsSlowStatements = true;
  readonly bulkInsert = 'values';
  readonly #lease: PgLeaser;
  readonly #adminCopies: () => Promise<boolean>;

  constructor(readonly name: string, lease: PgLeaser, adminCopies: () => Promise<boolean>) {
    this.#lease = lease;
    this.#adminCopies = adminCopies;
  }

  adminCopies(): Promise<boolean> {
    return this.#adminCopies();
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
