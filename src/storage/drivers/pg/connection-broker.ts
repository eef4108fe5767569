// Shares one ceiling of open Postgres server connections among many per-tenant databases.
import pg from 'pg';
import { TenancyError } from '../../../errors.ts';

export interface ConnectionBrokerOptions {
  ceiling: number; // max open connections across all databases
  idleMillis: number; // close a connection idle longer than this
  acquireTimeoutMillis: number;
  /** Opens and connects a client to that database. */
  connect: (database: string) => Promise<pg.Client>;
}

export interface Lease {
  readonly client: pg.Client;
  release(destroy?: boolean): void;
}

/** `open` counts every server slot in use: idle, active, still connecting or still closing. */
export interface BrokerStats {
  open: number; idle: number; active: number; waiting: number; databases: number;
}

type Timer = ReturnType<typeof setTimeout>;
interface Conn { client: pg.Client; database: string; broken: boolean; timer?: Timer }
interface Waiter { database: string; done: boolean; finish(lease?: Lease, err?: unknown): void }
interface Closer { pending: Set<Conn>; done(): void }
interface Db {
  idle: Conn[]; // oldest first: reuse pops the newest so the oldest can time out
  active: Set<Conn>;
  ending: Set<Conn>; // still holding a server slot until the backend is gone
  connecting: number;
  closers: Closer[];
}

function closedError(): Error {
  return Object.assign(new Error('connection broker is closed'), { code: 'POOL_CLOSED' });
}

function unrefTimer(run: () => void, millis: number): Timer {
  const timer = setTimeout(run, millis);
  timer.unref(); // a waiting broker must not keep the process alive
  return timer;
}

export class ConnectionBroker {
  readonly #options: ConnectionBrokerOptions;
  // Map order doubles as recency: touching a database moves it to the end, so the first
  // entry with an idle connection is the least recently used one.
  readonly #dbs = new Map<string, Db>();
  readonly #queue: Waiter[] = [];
  readonly #waiters = new Set<Waiter>(); // queued ones plus those whose connect is in flight
  readonly #inflight = new Set<Promise<void>>(); // connects and ends that close() must await
  #slots = 0;
  #closed = false;

  constructor(options: ConnectionBrokerOptions) {
    if (!Number.isInteger(options.ceiling) || options.ceiling < 1) {
      throw new TenancyError('CONFIG_INVALID', {
        params: { detail: 'connection ceiling must be a positive integer' },
      });
    }
    this.#options = { ...options };
  }

  acquire(database: string, signal?: AbortSignal): Promise<Lease> {
    if (this.#closed) return Promise.reject(closedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Lease>((resolve, reject) => {
      const onAbort = (): void => waiter.finish(undefined, signal?.reason);
      const timer = unrefTimer(() => {
        waiter.finish(undefined, new TenancyError('POOL_TIMEOUT'));
      }, this.#options.acquireTimeoutMillis);
      const waiter: Waiter = {
        database,
        done: false,
        finish: (lease, err) => {
          if (waiter.done) return;
          waiter.done = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.#waiters.delete(waiter);
          const i = this.#queue.indexOf(waiter);
          if (i >= 0) this.#queue.splice(i, 1);
          if (lease) resolve(lease);
          else reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
      this.#queue.push(waiter);
      this.#drain();
    });
  }

  async closeDatabase(database: string): Promise<void> {
    const db = this.#dbs.get(database);
    if (!db) return;
    const pending = new Set([...db.idle, ...db.active, ...db.ending]);
    if (pending.size === 0) return;
    await new Promise<void>((resolve) => {
      // Bounded so a leaked lease cannot block tenant deletion forever; DROP ... WITH (FORCE)
      // deals with whatever is still connected.
      const timer = unrefTimer(() => closer.done(), this.#options.acquireTimeoutMillis);
      const closer: Closer = {
        pending,
        done: () => {
          clearTimeout(timer);
          db.closers = db.closers.filter((other) => other !== closer);
          resolve();
        },
      };
      db.closers.push(closer);
      for (const conn of db.idle.splice(0)) this.#retire(conn);
    });
    this.#prune(database);
  }

  stats(): BrokerStats {
    let [idle, active, databases] = [0, 0, 0];
    for (const db of this.#dbs.values()) {
      idle += db.idle.length;
      active += db.active.size;
      if (db.idle.length + db.active.size + db.connecting > 0) databases++;
    }
    return { open: this.#slots, idle, active, waiting: this.#queue.length, databases };
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const waiter of [...this.#waiters]) waiter.finish(undefined, closedError());
      // Active connections are ended under their holders: close() promises no leaked backends,
      // and a later release() finds nothing to do.
      for (const db of this.#dbs.values()) {
        for (const conn of [...db.idle.splice(0), ...db.active]) this.#retire(conn);
        db.active.clear();
      }
    }
    while (this.#inflight.size > 0) await Promise.all(this.#inflight);
  }

  /** Serves queued waiters strictly in order; if the head cannot be served, nobody can. */
  #drain(): void {
    while (!this.#closed && this.#queue.length > 0) {
      const waiter = this.#queue[0] as Waiter;
      const reuse = this.#dbs.get(waiter.database)?.idle.pop();
      if (reuse) {
        this.#queue.shift();
        clearTimeout(reuse.timer);
        this.#hand(reuse, waiter);
      } else if (this.#slots < this.#options.ceiling) {
        this.#queue.shift();
        this.#slots++;
        this.#open(waiter);
      } else {
        const victim = this.#evictable(waiter.database);
        if (!victim) return;
        this.#queue.shift();
        this.#open(waiter, victim); // the victim's slot passes to the new connection
      }
    }
  }

  #evictable(except: string): Conn | undefined {
    for (const [name, db] of this.#dbs) {
      const victim = name === except ? undefined : db.idle.shift(); // oldest of that database
      if (victim) return victim;
    }
    return undefined;
  }

  #open(waiter: Waiter, victim?: Conn): void {
    const { database } = waiter;
    this.#db(database).connecting++;
    this.#track((async () => {
      // Wait for the old backend to go so the server never sees more than the ceiling.
      if (victim) await this.#end(victim);
      let client: pg.Client | undefined;
      try {
        client = await this.#options.connect(database);
      } catch (err) {
        waiter.finish(undefined, err); // only this waiter fails; the slot goes to the next one
      }
      this.#db(database).connecting--;
      if (client) this.#hand(this.#adopt(client, database), waiter);
      else this.#slots--;
      this.#prune(database);
      this.#drain();
    })());
  }

  #adopt(client: pg.Client, database: string): Conn {
    const conn: Conn = { client, database, broken: false };
    // Always listening also keeps an unhandled 'error' from crashing the process.
    const lost = (): void => {
      conn.broken = true; // an active one is ended when released
      this.#dropIdle(conn);
    };
    client.on('error', lost);
    client.on('end', lost);
    return conn;
  }

  #hand(conn: Conn, waiter: Waiter): void {
    if (waiter.done || this.#closed) {
      this.#park(conn); // the waiter gave up while we connected; keep it for the next one
      return;
    }
    this.#db(conn.database, true).active.add(conn);
    let released = false;
    waiter.finish({
      client: conn.client,
      release: (destroy = false) => {
        if (released) return;
        released = true;
        this.#release(conn, destroy);
      },
    });
  }

  #release(conn: Conn, destroy: boolean): void {
    if (!this.#dbs.get(conn.database)?.active.delete(conn)) return; // close() already ended it
    if (destroy || conn.broken) this.#retire(conn);
    else this.#park(conn);
    this.#drain();
  }

  #park(conn: Conn): void {
    const db = this.#db(conn.database, true);
    if (conn.broken || this.#closed || db.closers.length > 0) {
      this.#retire(conn);
      return;
    }
    conn.timer = unrefTimer(() => this.#dropIdle(conn), this.#options.idleMillis);
    db.idle.push(conn);
  }

  #dropIdle(conn: Conn): void {
    const idle = this.#dbs.get(conn.database)?.idle ?? [];
    const i = idle.indexOf(conn);
    if (i >= 0) this.#retire(idle.splice(i, 1)[0] as Conn);
  }

  /** Ends a connection that holds a slot of its own and frees the slot once it is gone. */
  #retire(conn: Conn): void {
    if (this.#dbs.get(conn.database)?.ending.has(conn)) return;
    this.#track(this.#end(conn).then(() => {
      this.#slots--;
      this.#drain();
    }));
  }

  #end(conn: Conn): Promise<void> {
    const db = this.#db(conn.database);
    db.ending.add(conn);
    clearTimeout(conn.timer);
    let timer: Timer | undefined;
    // end() waits for the server to close the socket; bound it in case the socket hangs.
    const bound = new Promise<void>((resolve) => {
      timer = unrefTimer(resolve, this.#options.acquireTimeoutMillis);
    });
    const ended = conn.client.end().catch(() => undefined);
    return Promise.race([ended, bound]).then(() => {
      clearTimeout(timer);
      db.ending.delete(conn);
      for (const closer of [...db.closers]) {
        closer.pending.delete(conn);
        if (closer.pending.size === 0) closer.done();
      }
      this.#prune(conn.database);
    });
  }

  #track(task: Promise<void>): void {
    const tracked: Promise<void> = task.catch(() => undefined).then(() => {
      this.#inflight.delete(tracked);
    });
    this.#inflight.add(tracked);
  }

  /** Finds or makes the entry; `touch` marks the database as just used. */
  #db(name: string, touch = false): Db {
    const db = this.#dbs.get(name) ??
      { idle: [], active: new Set(), ending: new Set(), connecting: 0, closers: [] };
    if (touch) this.#dbs.delete(name);
    if (touch || !this.#dbs.has(name)) this.#dbs.set(name, db);
    return db;
  }

  #prune(name: string): void {
    const db = this.#dbs.get(name);
    const held = db && db.idle.length + db.active.size + db.ending.size + db.connecting;
    if (held === 0 && db?.closers.length === 0) this.#dbs.delete(name);
  }
}
