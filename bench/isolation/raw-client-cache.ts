// The raw baseline's answer to many databases under one connection budget: an LRU of clients.
import pg from 'pg';

/**
 * Keeps at most `budget` connections open across all databases. A request reuses an idle
 * client of its database; else it opens one while under budget; else it ends the least
 * recently released idle client (of any other database) and opens one in its place, waiting
 * for the old backend to go first so the server never sees more than `budget`. This is the
 * plainest thing an application would write with `pg` alone.
 */
export class RawClientCache {
  // Map order is recency: a release moves its database to the end.
  readonly #idle = new Map<string, pg.Client[]>();
  readonly #waiters: (() => void)[] = [];
  #open = 0;

  constructor(private readonly budget: number, private readonly url: (db: string) => string) {}

  /** A client connected to `database`, idle until now; hand it back with `release`. */
  async acquire(database: string): Promise<pg.Client> {
    for (;;) {
      const mine = this.#idle.get(database);
      const reuse = mine?.pop();
      if (reuse !== undefined) {
        if (mine?.length === 0) this.#idle.delete(database);
        return reuse;
      }
      if (this.#open < this.budget) {
        this.#open++;
        return this.#connect(database);
      }
      const victim = this.#oldestIdle();
      if (victim !== undefined) {
        await victim.end().catch(() => undefined); // its slot passes to the new client
        return this.#connect(database);
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Returns a client; `broken` ends it (its transaction state is unknown) and frees the slot. */
  release(database: string, client: pg.Client, broken = false): void {
    if (broken) {
      this.#open--;
      void client.end().catch(() => undefined);
    } else {
      const list = this.#idle.get(database) ?? [];
      this.#idle.delete(database);
      list.push(client);
      this.#idle.set(database, list);
    }
    this.#waiters.shift()?.();
  }

  /** Ends the idle clients; call it once every acquired client is released. */
  async close(): Promise<void> {
    const clients = [...this.#idle.values()].flat();
    this.#idle.clear();
    this.#open -= clients.length;
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
  }

  #oldestIdle(): pg.Client | undefined {
    for (const [database, list] of this.#idle) {
      const client = list.shift(); // oldest of the least recently used database
      if (list.length === 0) this.#idle.delete(database);
      if (client !== undefined) return client;
    }
    return undefined;
  }

  async #connect(database: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.url(database) });
    client.on('error', () => {}); // a lost idle client must not crash the bench
    try {
      await client.connect();
      return client;
    } catch (err) {
      this.#open--;
      this.#waiters.shift()?.();
      throw err;
    }
  }
}
