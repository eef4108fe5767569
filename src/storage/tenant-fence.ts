// Fences a tenant's layout off in its database and waits out its sessions in flight (moves,
// deletes): no session that began before can commit after, and none can begin after.
import { TenancyError } from '../errors.ts';
import type { Isolation } from '../config/schema.ts';
import type { TenantId } from '../tenant-id.ts';
import { tenantLockSpace } from './bootstrap.ts';
import type { Queryable } from './driver.ts';
import type { TenantStorage } from './placements/placement.ts';
import type { RegionStorage } from './region.ts';

/** Why no session may enter: held for a move, moved to another place, or deleted. */
export type FenceReason = 'moving' | 'moved' | 'deleted';

/** How long a fence waits for sessions in flight before it gives up (and lifts itself). */
const defaultDrainMillis = 30_000;

/**
 * Refuses every new session of the tenant in the layout `storage` (its database and schema),
 * then waits until every session of the tenant that entered that database before has committed
 * or rolled back. Afterwards nothing of the tenant changes there except through the admin.
 * A session still running after `drainMillis` fails the fence with
 * TENANT_NOT_ACTIVE (busy); the fence is then lifted again unless it was already there.
 *
 * ```sql
 * INSERT INTO tenancy.tenant_fences VALUES ('acme', 'tenant_acme', 'moving') …;  -- commits
 * BEGIN; SELECT pg_advisory_xact_lock(<space>, hashtext('acme')); COMMIT;  -- waits for sessions
 * ```
 */
export async function fenceTenant(storage: TenantStorage, tenant: TenantId,
  reason: FenceReason, drainMillis = defaultDrainMillis): Promise<void> {
  const { database: db, schema: layout } = storage;
  const earlier = await db.transaction('admin', async (tx) => {
    const found = await tx.query<{ reason: string }>(
      'SELECT reason FROM tenancy.tenant_fences WHERE tenant = $1 AND layout = $2',
      [tenant, layout]);
    await tx.query(
      `INSERT INTO tenancy.tenant_fences (tenant, layout, reason) VALUES ($1, $2, $3)
       ON CONFLICT (tenant, layout)
       DO UPDATE SET reason = EXCLUDED.reason, fenced_at = now()`,
      [tenant, layout, reason]);
    return found.rows[0]?.reason;
  });
  try {
    // Sessions hold the lock shared from their first statement to their end; this waits for
    // them, and any session that enters after it reads the fence (committed above) and stops.
    // The lock is released at once: the fence, not the lock, keeps new sessions out.
    await db.transaction('admin', async (tx) => {
      await tx.query("SELECT set_config('lock_timeout', $1, true)", [String(drainMillis)]);
      await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [tenantLockSpace, tenant]);
    });
  } catch (err) {
    if (earlier === undefined) await unfenceTenant(storage, tenant).catch(() => undefined);
    else await setFence(storage, tenant, earlier).catch(() => undefined);
    throw busyOr(err, tenant);
  }
}

/**
 * Takes the tenant's lock exclusively until the end of `tx` (a restore): waits out the tenant's
 * sessions in flight in that database, and holds new ones until `tx` ends, so none of them
 * straddles the change. Fails with TENANT_NOT_ACTIVE (busy) after `waitMillis`.
 *
 * ```sql
 * SELECT set_config('lock_timeout', '30000', true);
 * SELECT pg_advisory_xact_lock(<space>, hashtext('acme'));
 * ```
 */
export async function holdTenant(tx: Queryable, tenant: TenantId,
  waitMillis = defaultDrainMillis): Promise<void> {
  const prior = await tx.query<{ value: string }>(
    "SELECT current_setting('lock_timeout') AS value, set_config('lock_timeout', $1, true)",
    [String(waitMillis)]);
  try {
    await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [tenantLockSpace, tenant]);
  } catch (err) {
    throw busyOr(err, tenant);
  }
  await tx.query("SELECT set_config('lock_timeout', $1, true)", [prior.rows[0]?.value ?? '0']);
}

function busyOr(err: unknown, tenant: TenantId): unknown {
  if (typeof err !== 'object' || err === null || (err as { code?: unknown }).code !== '55P03') {
    return err;
  }
  return new TenancyError('TENANT_NOT_ACTIVE', {
    tenantId: tenant, cause: err, params: { status: 'busy (its sessions did not end)' },
  });
}

/** Lets the tenant's sessions into its layout again (it lives there, or is coming back). */
export async function unfenceTenant(storage: TenantStorage, tenant: TenantId): Promise<void> {
  await storage.database.transaction('admin', (tx) => tx.query(
    'DELETE FROM tenancy.tenant_fences WHERE tenant = $1 AND layout = $2',
    [tenant, storage.schema]));
}

async function setFence(storage: TenantStorage, tenant: TenantId, reason: string):
  Promise<void> {
  await storage.database.transaction('admin', (tx) => tx.query(
    'UPDATE tenancy.tenant_fences SET reason = $3 WHERE tenant = $1 AND layout = $2',
    [tenant, storage.schema, reason]));
}

/** Where the tenant's sessions run in `region`, or undefined when that has no database (yet). */
async function sessionStorage(region: RegionStorage, isolation: Isolation, tenant: TenantId):
  Promise<TenantStorage | undefined> {
  const storage = region.placement(isolation).locate(tenant);
  if (isolation === 'database' && !await region.driver.databaseExists(storage.database.name)) {
    return undefined;
  }
  return storage;
}

/** `fenceTenant` on the database the tenant's sessions use in `region`, when there is one. */
export async function fenceTenantIn(region: RegionStorage, isolation: Isolation,
  tenant: TenantId, reason: FenceReason): Promise<void> {
  const storage = await sessionStorage(region, isolation, tenant);
  if (storage !== undefined) await fenceTenant(storage, tenant, reason);
}

/** `unfenceTenant` on the database the tenant's sessions use in `region`, when there is one. */
export async function unfenceTenantIn(region: RegionStorage, isolation: Isolation,
  tenant: TenantId): Promise<void> {
  const storage = await sessionStorage(region, isolation, tenant);
  if (storage !== undefined) await unfenceTenant(storage, tenant);
}
