// The embedded driver: PGlite data folders, one per database, with a bound on how many stay open.
import { cp, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { RegionDriver } from '../../driver.ts';
import { createRoleSql, helperSchemaSql } from '../../bootstrap.ts';
import { PgliteDatabase, type PgliteLease } from './pglite-database.ts';
import { openPglite } from './open-pglite.ts';

interface OpenInstance {
  ready: Promise<PGlite>;
  users: number;
}

export interface PgliteDriverOptions {
  /** The region's folder: `shared/`, `template/` and `databases/<name>/` live under it. */
  folder: string;
  runtimeRole: string;
  /** Open tenant databases kept at once; each costs about 200 MB, so keep this small. */
  maxOpenDatabases: number;
}

export class PgliteRegionDriver implements RegionDriver {
  readonly kind = 'pglite';
  readonly runtimeRole: string;
  readonly shared: PgliteDatabase;
  readonly #options: PgliteDriverOptions;
  // Insertion order is recency order: the first entry is the least recently used.
  readonly #open = new Map<string, OpenInstance>();
  // A folder being closed must not be opened again until the close has finished.
  readonly #closing = new Map<string, Promise<void>>();
  #sharedDb: Promise<PGlite> | undefined;
  #template: Promise<string> | undefined;
  #closed = false;

  constructor(options: PgliteDriverOptions) {
    this.#options = options;
    this.runtimeRole = options.runtimeRole;
    this.shared = new PgliteDatabase('shared', options.runtimeRole, () => this.#leaseShared());
  }

  async bootstrap(): Promise<void> {
    await mkdir(join(this.#options.folder, 'databases'), { recursive: true });
    await this.shared.exec(this.#bootstrapSql());
  }

  tenantDatabase(name: string): PgliteDatabase {
    return new PgliteDatabase(name, this.runtimeRole, () => this.#lease(name));
  }

  async createDatabase(name: string): Promise<void> {
    const template = await this.#ensureTemplate();
    // Copying a prepared folder is about ten times faster than running initdb again.
    await cp(template, this.#path(name), { recursive: true, errorOnExist: true, force: false });
  }

  async dropDatabase(name: string): Promise<void> {
    const entry = this.#open.get(name);
    if (entry !== undefined) await this.#closeEntry(name, entry);
    await this.#closing.get(name);
    await rm(this.#path(name), { recursive: true, force: true });
  }

  async databaseExists(name: string): Promise<boolean> {
    return stat(this.#path(name)).then(() => true, () => false);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#open.values()].map((entry) => entry.ready);
    this.#open.clear();
    if (this.#sharedDb !== undefined) all.push(this.#sharedDb);
    await Promise.allSettled(all.map(async (ready) => (await ready).close()));
  }

  #path(name: string): string {
    return join(this.#options.folder, 'databases', name);
  }

  #bootstrapSql(): string {
    return createRoleSql(this.runtimeRole, false) + helperSchemaSql(this.runtimeRole);
  }

  async #leaseShared(): Promise<PgliteLease> {
    if (this.#closed) throw new Error('driver is closed');
    this.#sharedDb ??= openPglite(join(this.#options.folder, 'shared'));
    return { db: await this.#sharedDb, release: () => {} };
  }

  #ensureTemplate(): Promise<string> {
    this.#template ??= (async () => {
      const path = join(this.#options.folder, 'template');
      const ready = join(path, '.tenancy-template-3');
      if (await stat(ready).then(() => true, () => false)) return path;
      await rm(path, { recursive: true, force: true });
      const db = await openPglite(path);
      await db.exec(this.#bootstrapSql());
      await db.close();
      await writeFile(ready, 'prepared\n');
      return path;
    })();
    this.#template.catch(() => { this.#template = undefined; });
    return this.#template;
  }

  async #lease(name: string): Promise<PgliteLease> {
    if (this.#closed) throw new Error('driver is closed');
    let entry = this.#open.get(name);
    if (entry === undefined) {
      const path = this.#path(name);
      const closing = this.#closing.get(name) ?? Promise.resolve();
      const ready = closing.then(() => stat(path)).then(() => openPglite(path));
      entry = { ready, users: 0 };
      ready.catch(() => this.#open.delete(name));
    } else {
      this.#open.delete(name);
    }
    this.#open.set(name, entry);
    entry.users += 1;
    const current = entry;
    let db: PGlite;
    try {
      db = await current.ready;
    } catch (err) {
      current.users -= 1;
      throw err;
    }
    let released = false;
    return {
      db,
      release: () => {
        if (released) return;
        released = true;
        current.users -= 1;
        void this.#evict();
      },
    };
  }

  /** Closes the least recently used idle databases beyond the bound; busy ones stay open. */
  async #evict(): Promise<void> {
    let excess = this.#open.size - this.#options.maxOpenDatabases;
    for (const [name, entry] of this.#open) {
      if (excess <= 0) break;
      if (entry.users > 0) continue;
      excess -= 1;
      await this.#closeEntry(name, entry);
    }
  }

  #closeEntry(name: string, entry: OpenInstance): Promise<void> {
    this.#open.delete(name);
    const done = entry.ready
      .then((db) => db.close())
      .catch(() => {})
      .finally(() => {
        if (this.#closing.get(name) === done) this.#closing.delete(name);
      });
    this.#closing.set(name, done);
    return done;
  }
}
