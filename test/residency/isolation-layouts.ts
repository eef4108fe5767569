// Where a tenant's rows really are, read from its region's server: the isolations holding a
// layout or rows of the tenant, whatever the catalog says.
import type { Isolation } from '../../src/config/schema.ts';
import type { Tenancy } from '../../src/index.ts';
import { DatabasePlacement } from '../../src/storage/placements/database-placement.ts';
import { tenantSchema } from '../../src/storage/placements/schema-layout.ts';
import { parseTenantId } from '../../src/tenant-id.ts';

/** The isolations in which the tenant has a layout or rows, in database, schema, row order. */
export async function layoutsOf(tenancy: Tenancy, id: string): Promise<Isolation[]> {
  const region = tenancy.regionOf(await tenancy.tenants.get(id));
  const found: Isolation[] = [];
  const placement = region.placement('database');
  if (!(placement instanceof DatabasePlacement)) throw new Error('not a database placement');
  if (await region.driver.databaseExists(placement.databaseName(parseTenantId(id)))) {
    found.push('database');
  }
  const counts = await region.driver.shared.transaction('admin', async (tx) => {
    await tx.query("SELECT set_config('tenancy.tenant_id', $1, true)", [id]);
    const result = await tx.query<{ schemas: number; rows: number }>(
      `SELECT (SELECT count(*)::int FROM pg_namespace WHERE nspname = $2) AS schemas,
              (SELECT count(*)::int FROM tenancy_rows.conversations WHERE tenant_id = $1)
            + (SELECT count(*)::int FROM tenancy_rows.messages WHERE tenant_id = $1)
            + (SELECT count(*)::int FROM tenancy_rows.documents WHERE tenant_id = $1) AS rows`,
      [id, tenantSchema(id)]);
    return result.rows[0];
  });
  if ((counts?.schemas ?? 0) > 0) found.push('schema');
  if ((counts?.rows ?? 0) > 0) found.push('row');
  return found;
}
