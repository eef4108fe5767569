// One embedded PGlite database, opened on demand; runtime transactions switch to the runtime role.
import type { PGlite, Transaction } from '@electric-sql/pglite';
import type { Database, Queryable, QueryResult, Role, TransactionOptions } from '../../driver.ts';
import { quoteIdent } from '../../sql.ts';

export interface PgliteLease {
  db: PGlite;
  release(): void;
}

function wrap(tx: Transaction): Queryable {
  return {
    async query<R extends object>(sql: string, params?: readonly unknown[]) {
      const result = await tx.query<R>(sql, params as unknown[] | undefined);
      // PGlite reports 0 affected rows for a SELECT; pg counts the rows it returned.
      return { rows: result.rows, rowCount: result.affectedRows || result.rows.length };
    },
    async exec(sql: string) {
      await tx.exec(sql);
    },
  } as Queryable;
}

export class PgliteDatabase implements Database {
  readonly #open: () => Promise<PgliteLease>;
  readonly #setRole: string;

  constructor(readonly name: string, runtimeRole: string, open: () => Promise<PgliteLease>) {
    this.#open = open;
    // PGlite has one built-in superuser; tenant sessions step down for the transaction only.
    this.#setRole = `SET LOCAL ROLE ${quoteIdent(runtimeRole)}`;
  }

  async transaction<T>(
    role: Role,
    fn: (tx: Queryable) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    options.signal?.throwIfAborted();
    const lease = await this.#open();
    try {
      return await lease.db.transaction(async (tx) => {
        options.signal?.throwIfAborted();
        if (role === 'runtime') await tx.query(this.#setRole);
        const result = await fn(wrap(tx));
        // As on the server driver: a session cancelled while it ran rolls back, never commits.
        options.signal?.throwIfAborted();
        return result;
      });
    } finally {
      lease.release();
    }
  }

  async exec(sql: string): Promise<void> {
    const lease = await this.#open();
    try {
      await lease.db.exec(sql);
    } finally {
      lease.release();
    }
  }
}

export type { QueryResult };
