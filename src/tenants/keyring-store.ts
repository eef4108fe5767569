// The keyring tables in a region's shared database: wrapped keys only, reachable by admin only.
import type { Database, Queryable } from '../storage/driver.ts';
import type { KeyPurpose } from '../crypto/key-wrap.ts';

/** The `tenancy_keys` schema. The runtime role is granted nothing on it, not even USAGE. */
export const keyringSchemaSql = `
CREATE SCHEMA IF NOT EXISTS tenancy_keys;
REVOKE ALL ON SCHEMA tenancy_keys FROM PUBLIC;
CREATE TABLE IF NOT EXISTS tenancy_keys.keyrings (
  tenant_id text PRIMARY KEY,
  keyring_id bytea NOT NULL UNIQUE CHECK (length(keyring_id) = 16),
  provider text NOT NULL,
  root_key_id text NOT NULL,
  wrapped_master bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  rewrapped_at timestamptz
);
CREATE INDEX IF NOT EXISTS keyrings_root ON tenancy_keys.keyrings (root_key_id);
CREATE TABLE IF NOT EXISTS tenancy_keys.tenant_keys (
  tenant_id text NOT NULL REFERENCES tenancy_keys.keyrings (tenant_id) ON DELETE CASCADE,
  purpose text NOT NULL CHECK (purpose IN ('data', 'index')),
  version integer NOT NULL CHECK (version > 0),
  state text NOT NULL CHECK (state IN ('active', 'previous', 'retired')),
  wrapped bytea CHECK ((state = 'retired') = (wrapped IS NULL)),
  created_at timestamptz NOT NULL DEFAULT now(),
  retired_at timestamptz,
  PRIMARY KEY (tenant_id, purpose, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS tenant_keys_one_active
  ON tenancy_keys.tenant_keys (tenant_id, purpose) WHERE state = 'active';
CREATE TABLE IF NOT EXISTS tenancy_keys.reencrypt_checkpoints (
  tenant_id text PRIMARY KEY REFERENCES tenancy_keys.keyrings (tenant_id) ON DELETE CASCADE,
  target_version integer NOT NULL,
  table_name text,
  after_id text,
  done bigint NOT NULL DEFAULT 0,
  rewritten bigint NOT NULL DEFAULT 0,
  total bigint NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE TABLE IF NOT EXISTS tenancy_keys.destroyed (
  tenant_id text PRIMARY KEY,
  keyring_id bytea NOT NULL,
  key_ids text[] NOT NULL,
  destroyed_at timestamptz NOT NULL DEFAULT now()
);`;

export interface KeyringRow {
  tenantId: string;
  keyringId: Buffer;
  provider: string;
  rootKeyId: string;
  wrappedMaster: Buffer;
  createdAt: Date;
  rewrappedAt: Date | null;
}

export interface TenantKeyRow {
  purpose: KeyPurpose;
  version: number;
  state: 'active' | 'previous' | 'retired';
  wrapped: Buffer | null;
  createdAt: Date;
  retiredAt: Date | null;
}

export interface Checkpoint {
  targetVersion: number;
  table: string | null;
  afterId: string | null;
  done: number;
  rewritten: number;
  total: number;
  startedAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

export interface DestroyedRecord {
  tenantId: string;
  keyIds: string[];
  destroyedAt: Date;
}

const bytes = (value: Uint8Array): Buffer => Buffer.from(value);
const date = (value: Date | string): Date => new Date(value);

interface RawKeyring {
  tenant_id: string; keyring_id: Uint8Array; provider: string; root_key_id: string;
  wrapped_master: Uint8Array; created_at: Date; rewrapped_at: Date | null;
}

function toKeyring(row: RawKeyring): KeyringRow {
  return {
    tenantId: row.tenant_id,
    keyringId: bytes(row.keyring_id),
    provider: row.provider,
    rootKeyId: row.root_key_id,
    wrappedMaster: bytes(row.wrapped_master),
    createdAt: date(row.created_at),
    rewrappedAt: row.rewrapped_at === null ? null : date(row.rewrapped_at),
  };
}

const keyringColumns =
  'tenant_id, keyring_id, provider, root_key_id, wrapped_master, created_at, rewrapped_at';

/** Admin-side reads and writes of one region's keyrings; each call is one transaction. */
export class KeyringStore {
  constructor(private readonly db: Database) {}

  prepare(): Promise<void> {
    return this.db.exec(keyringSchemaSql);
  }

  transaction<T>(fn: (tx: KeyringTx) => Promise<T>): Promise<T> {
    return this.db.transaction('admin', (tx) => fn(new KeyringTx(tx)));
  }

  /** Runs VACUUM on the keyring tables, so dead row versions of destroyed keys are pruned. */
  async vacuum(): Promise<void> {
    await this.db.exec('VACUUM tenancy_keys.keyrings, tenancy_keys.tenant_keys');
  }
}

/** Statements on the keyring tables inside one admin transaction. */
export class KeyringTx {
  constructor(private readonly tx: Queryable) {}

  async keyring(tenantId: string, lock = false): Promise<KeyringRow | undefined> {
    const found = await this.tx.query<RawKeyring>(
      `SELECT ${keyringColumns} FROM tenancy_keys.keyrings WHERE tenant_id = $1
       ${lock ? 'FOR UPDATE' : ''}`,
      [tenantId],
    );
    const row = found.rows[0];
    return row === undefined ? undefined : toKeyring(row);
  }

  /** The database's clock, which stamped every key's `created_at`. */
  async now(): Promise<Date> {
    const found = await this.tx.query<{ now: Date | string }>('SELECT now() AS now');
    return date((found.rows[0] as { now: Date | string }).now);
  }

  async keys(tenantId: string): Promise<TenantKeyRow[]> {
    const found = await this.tx.query<{
      purpose: KeyPurpose; version: number; state: TenantKeyRow['state'];
      wrapped: Uint8Array | null; created_at: Date; retired_at: Date | null;
    }>(
      `SELECT purpose, version, state, wrapped, created_at, retired_at
         FROM tenancy_keys.tenant_keys WHERE tenant_id = $1 ORDER BY purpose, version`,
      [tenantId],
    );
    return found.rows.map((row) => ({
      purpose: row.purpose,
      version: row.version,
      state: row.state,
      wrapped: row.wrapped === null ? null : bytes(row.wrapped),
      createdAt: date(row.created_at),
      retiredAt: row.retired_at === null ? null : date(row.retired_at),
    }));
  }

  /** Inserts a keyring unless the tenant has one; false when it had. */
  async insertKeyring(row: Omit<KeyringRow, 'createdAt' | 'rewrappedAt'>): Promise<boolean> {
    const inserted = await this.tx.query(
      `INSERT INTO tenancy_keys.keyrings (tenant_id, keyring_id, provider, root_key_id,
         wrapped_master) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id) DO NOTHING`,
      [row.tenantId, row.keyringId, row.provider, row.rootKeyId, row.wrappedMaster],
    );
    return inserted.rowCount === 1;
  }

  async insertKey(tenantId: string, purpose: KeyPurpose, version: number, wrapped: Buffer):
    Promise<void> {
    await this.tx.query(
      `INSERT INTO tenancy_keys.tenant_keys (tenant_id, purpose, version, state, wrapped)
       VALUES ($1, $2, $3, 'active', $4)`,
      [tenantId, purpose, version, wrapped],
    );
  }

  /** Marks the active key of a purpose as previous, so a new version can become active. */
  async demoteActive(tenantId: string, purpose: KeyPurpose): Promise<void> {
    await this.tx.query(
      `UPDATE tenancy_keys.tenant_keys SET state = 'previous'
        WHERE tenant_id = $1 AND purpose = $2 AND state = 'active'`,
      [tenantId, purpose],
    );
  }

  /** Drops the wrapped key of a version; it can never decrypt again. */
  async retire(tenantId: string, version: number): Promise<boolean> {
    const updated = await this.tx.query(
      `UPDATE tenancy_keys.tenant_keys SET state = 'retired', wrapped = NULL, retired_at = now()
        WHERE tenant_id = $1 AND purpose = 'data' AND version = $2 AND state = 'previous'`,
      [tenantId, version],
    );
    return updated.rowCount === 1;
  }

  async rewrap(tenantId: string, fromRoot: string, provider: string, rootKeyId: string,
    wrapped: Buffer): Promise<boolean> {
    const updated = await this.tx.query(
      `UPDATE tenancy_keys.keyrings
          SET provider = $3, root_key_id = $4, wrapped_master = $5, rewrapped_at = now()
        WHERE tenant_id = $1 AND root_key_id = $2`,
      [tenantId, fromRoot, provider, rootKeyId, wrapped],
    );
    return updated.rowCount === 1;
  }

  /** Tenants whose master key is wrapped under a root other than `rootKeyId`, a page at a time. */
  async wrappedUnderOther(rootKeyId: string, after: string, limit: number):
    Promise<KeyringRow[]> {
    const found = await this.tx.query<RawKeyring>(
      `SELECT ${keyringColumns} FROM tenancy_keys.keyrings
        WHERE root_key_id <> $1 AND tenant_id > $2 ORDER BY tenant_id LIMIT $3`,
      [rootKeyId, after, limit],
    );
    return found.rows.map(toKeyring);
  }

  async destroyed(tenantId: string): Promise<DestroyedRecord | undefined> {
    const found = await this.tx.query<{ key_ids: string[]; destroyed_at: Date }>(
      'SELECT key_ids, destroyed_at FROM tenancy_keys.destroyed WHERE tenant_id = $1',
      [tenantId],
    );
    const row = found.rows[0];
    return row === undefined
      ? undefined
      : { tenantId, keyIds: row.key_ids, destroyedAt: date(row.destroyed_at) };
  }

  /**
   * Overwrites every wrapped key of the tenant with zeros, deletes the rows and records what
   * was destroyed. The overwrite comes first so the deleted row versions hold no key either.
   */
  async destroy(tenantId: string, keyringId: Buffer, keyIds: readonly string[]):
    Promise<DestroyedRecord> {
    await this.tx.query(
      `UPDATE tenancy_keys.tenant_keys SET wrapped = CASE WHEN wrapped IS NULL THEN NULL
         ELSE decode(repeat('00', length(wrapped)), 'hex') END WHERE tenant_id = $1`,
      [tenantId],
    );
    await this.tx.query(
      `UPDATE tenancy_keys.keyrings
          SET wrapped_master = decode(repeat('00', length(wrapped_master)), 'hex')
        WHERE tenant_id = $1`,
      [tenantId],
    );
    await this.tx.query('DELETE FROM tenancy_keys.keyrings WHERE tenant_id = $1', [tenantId]);
    const inserted = await this.tx.query<{ destroyed_at: Date }>(
      `INSERT INTO tenancy_keys.destroyed (tenant_id, keyring_id, key_ids) VALUES ($1, $2, $3)
       RETURNING destroyed_at`,
      [tenantId, keyringId, keyIds],
    );
    return {
      tenantId,
      keyIds: [...keyIds],
      destroyedAt: date((inserted.rows[0] as { destroyed_at: Date }).destroyed_at),
    };
  }

  /** Deletes a keyring without a record: for a create that failed before any data existed. */
  async discard(tenantId: string): Promise<void> {
    await this.tx.query('DELETE FROM tenancy_keys.keyrings WHERE tenant_id = $1', [tenantId]);
  }

  async checkpoint(tenantId: string): Promise<Checkpoint | undefined> {
    const found = await this.tx.query<{
      target_version: number; table_name: string | null; after_id: string | null;
      done: string | number; rewritten: string | number; total: string | number;
      started_at: Date; updated_at: Date; finished_at: Date | null;
    }>(
      `SELECT target_version, table_name, after_id, done, rewritten, total, started_at,
              updated_at, finished_at
         FROM tenancy_keys.reencrypt_checkpoints WHERE tenant_id = $1`,
      [tenantId],
    );
    const row = found.rows[0];
    if (row === undefined) return undefined;
    return {
      targetVersion: row.target_version,
      table: row.table_name,
      afterId: row.after_id,
      done: Number(row.done),
      rewritten: Number(row.rewritten),
      total: Number(row.total),
      startedAt: date(row.started_at),
      updatedAt: date(row.updated_at),
      finishedAt: row.finished_at === null ? null : date(row.finished_at),
    };
  }

  /** Starts (or restarts) the re-encryption record of a tenant towards `targetVersion`. */
  async startCheckpoint(tenantId: string, targetVersion: number, total: number): Promise<void> {
    await this.tx.query(
      `INSERT INTO tenancy_keys.reencrypt_checkpoints (tenant_id, target_version, total)
       VALUES ($1, $2, $3)
       ON CONFLICT (tenant_id) DO UPDATE SET target_version = $2, total = $3, table_name = NULL,
         after_id = NULL, done = 0, rewritten = 0, started_at = now(), updated_at = now(),
         finished_at = NULL`,
      [tenantId, targetVersion, total],
    );
  }

  async saveCheckpoint(tenantId: string, point: Pick<Checkpoint, 'table' | 'afterId' | 'done' |
    'rewritten'> & { finished: boolean }): Promise<void> {
    await this.tx.query(
      `UPDATE tenancy_keys.reencrypt_checkpoints
          SET table_name = $2, after_id = $3, done = $4, rewritten = $5, updated_at = now(),
              finished_at = CASE WHEN $6::boolean THEN now() ELSE NULL END
        WHERE tenant_id = $1`,
      [tenantId, point.table, point.afterId, point.done, point.rewritten, point.finished],
    );
  }
}
