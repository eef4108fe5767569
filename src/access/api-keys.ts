// Tenant API keys: shown once when issued, stored only as a hash, revocable.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database } from '../storage/driver.ts';
import type { TenantId } from '../tenant-id.ts';

/** An issued key. `secret` is the whole bearer token and exists only in this return value. */
export interface IssuedApiKey {
  keyId: string;
  tenantId: TenantId;
  secret: string;
  createdAt: Date;
}

export interface ApiKeyInfo {
  keyId: string;
  tenantId: TenantId;
  createdAt: Date;
  revokedAt: Date | null;
}

// A token reads `tny_<key id>_<secret>`: the id finds the row, the secret is checked by hash.
const tokenShape = /^tny_([a-z0-9]{16})_([A-Za-z0-9_-]{43})$/;

function hash(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

// Compared against when the key id is unknown, so a miss costs the same as a wrong secret.
const decoy = hash('decoy');

export class ApiKeys {
  constructor(private readonly db: Database) {}

  async prepare(): Promise<void> {
    await this.db.exec(`
CREATE TABLE IF NOT EXISTS tenancy.api_keys (
  key_id text PRIMARY KEY,
  tenant_id text NOT NULL REFERENCES tenancy.tenants (id),
  secret_hash bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE INDEX IF NOT EXISTS api_keys_tenant ON tenancy.api_keys (tenant_id);`);
  }

  async issue(tenantId: TenantId): Promise<IssuedApiKey> {
    const keyId = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const result = await this.db.transaction('admin', (tx) =>
      tx.query<{ created_at: Date }>(
        `INSERT INTO tenancy.api_keys (key_id, tenant_id, secret_hash) VALUES ($1, $2, $3)
         RETURNING created_at`,
        [keyId, tenantId, hash(secret)],
      ),
    );
    return {
      keyId,
      tenantId,
      secret: `tny_${keyId}_${secret}`,
      createdAt: new Date((result.rows[0] as { created_at: Date }).created_at),
    };
  }

  /** The tenant a bearer token belongs to, or undefined for any unknown, revoked or bad token. */
  async verify(token: string): Promise<TenantId | undefined> {
    const match = tokenShape.exec(token);
    if (match === null) return undefined;
    const [, keyId, secret] = match as unknown as [string, string, string];
    const result = await this.db.transaction('admin', (tx) =>
      tx.query<{ tenant_id: string; secret_hash: Buffer | Uint8Array }>(
        `SELECT tenant_id, secret_hash FROM tenancy.api_keys
          WHERE key_id = $1 AND revoked_at IS NULL`,
        [keyId],
      ),
    );
    const row = result.rows[0];
    const stored = row === undefined ? decoy : Buffer.from(row.secret_hash);
    const same = timingSafeEqual(stored, hash(secret));
    return row !== undefined && same ? (row.tenant_id as TenantId) : undefined;
  }

  /** Revokes one key of the tenant; false when the tenant has no such live key. */
  async revoke(tenantId: TenantId, keyId: string): Promise<boolean> {
    const result = await this.db.transaction('admin', (tx) =>
      tx.query(
        `UPDATE tenancy.api_keys SET revoked_at = now()
          WHERE tenant_id = $1 AND key_id = $2 AND revoked_at IS NULL`,
        [tenantId, keyId],
      ),
    );
    return result.rowCount === 1;
  }

  async revokeAll(tenantId: TenantId): Promise<number> {
    const result = await this.db.transaction('admin', (tx) =>
      tx.query(
        `UPDATE tenancy.api_keys SET revoked_at = now()
          WHERE tenant_id = $1 AND revoked_at IS NULL`,
        [tenantId],
      ),
    );
    return result.rowCount;
  }

  async list(tenantId: TenantId): Promise<ApiKeyInfo[]> {
    const result = await this.db.transaction('admin', (tx) =>
      tx.query<{ key_id: string; created_at: Date; revoked_at: Date | null }>(
        `SELECT key_id, created_at, revoked_at FROM tenancy.api_keys
          WHERE tenant_id = $1 ORDER BY created_at`,
        [tenantId],
      ),
    );
    return result.rows.map((row) => ({
      keyId: row.key_id,
      tenantId,
      createdAt: new Date(row.created_at),
      revokedAt: row.revoked_at === null ? null : new Date(row.revoked_at),
    }));
  }
}
