// The raw side: node-postgres alone, sending the statements Tenancy sends, on the same budget.
import pg from 'pg';
import type { Isolation } from '../../src/config/schema.ts';
import type { BenchDeployment } from './deployment.ts';
import { connectionBudget, type Workload } from './options.ts';
import { RawClientCache } from './raw-client-cache.ts';
import { insertText, insertTitle, type BenchSide } from './side.ts';

/** How the raw side reaches each isolation's data; printed with the results. */
export const rawApproaches: Readonly<Record<Isolation, string>> = {
  row: `one pg.Pool (max ${connectionBudget}) on the shared database`,
  schema: `one pg.Pool (max ${connectionBudget}) on the shared database`,
  database: `an LRU of pg.Client across the tenant databases, at most ${connectionBudget} open: ` +
    'reuse an idle client of the database, else open one under the budget, else end the ' +
    'least recently used idle client and open one in its place',
};

const columns = 'id, title, text, metadata, created_at, updated_at';
// Sets the tenant, takes its lock shared and checks its fence, as every Tenancy session does.
const enterTenant = 'SELECT tenancy.enter_tenant($1, $2)';

// The same texts src/stores/documents.ts builds, with the table as session.table() quotes it.
const readSql = (table: string): string =>
  `SELECT ${columns} FROM ${table} WHERE id = $1`;
const insertSql = (table: string): string =>
  `INSERT INTO ${table} (id, title, text, metadata) VALUES ($1, $2, $3, $4)
       RETURNING ${columns}`;

/** BEGIN; enter the tenant; one statement; COMMIT. Throws when a read finds nothing. */
async function transaction(client: pg.ClientBase, tenant: string, table: string,
  workload: Workload, docId: string): Promise<void> {
  await client.query('BEGIN');
  // The layout is the table's schema: `tenancy_rows` or `tenant_<id>`.
  await client.query(enterTenant, [tenant, table.slice(1, table.indexOf('"', 1))]);
  const result = workload === 'read'
    ? await client.query(readSql(table), [docId])
    : await client.query(insertSql(table), [docId, insertTitle, insertText, '{}']);
  await client.query('COMMIT');
  if (result.rows.length !== 1) throw new Error(`raw ${workload} of ${docId} in ${tenant} failed`);
}

/** Opens the raw side for one isolation, as the runtime role, on the deployment's databases. */
export function openRawSide(deployment: BenchDeployment, isolation: Isolation): BenchSide {
  if (isolation === 'database') {
    const cache = new RawClientCache(connectionBudget, deployment.runtimeUrl);
    return {
      name: 'raw',
      async run(workload, tenant, docId) {
        const database = `${deployment.prefix}${tenant}`;
        const client = await cache.acquire(database);
        let broken = true;
        try {
          await transaction(client, tenant, `"tenant_${tenant}"."documents"`, workload, docId);
          broken = false;
        } finally {
          cache.release(database, client, broken);
        }
      },
      close: () => cache.close(),
    };
  }
  const pool = new pg.Pool({
    connectionString: deployment.runtimeUrl(deployment.database),
    max: connectionBudget,
  });
  pool.on('error', () => {}); // an idle client that loses its server must not crash the bench
  return {
    name: 'raw',
    async run(workload, tenant, docId) {
      const table = isolation === 'row'
        ? '"tenancy_rows"."documents"'
        : `"tenant_${tenant}"."documents"`;
      const client = await pool.connect();
      let broken = true;
      try {
        await transaction(client, tenant, table, workload, docId);
        broken = false;
      } finally {
        client.release(broken ? true : undefined);
      }
    },
    close: () => pool.end(),
  };
}
