// The end-to-end cost of encryption: reads and inserts of sealed rows against the same rows in
// the clear, through the same Tenancy sessions, per isolation, on the Postgres server.
//
// Encryption cannot be switched off for the built-in stores, so both sides use a table of the
// benchmark's own with the documents' shape: `sealed_notes` (title and text bytea, declared as
// encrypted fields, sealed and opened with `scope.crypto`) and `plain_notes` (the same as text).
// The statements are the same; the difference is the envelope work and the larger values.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Isolation } from '../../src/config/schema.ts';
import { builtinMigrations, Tenancy, type Migration, type TenantScope } from '../../src/index.ts';
import { median, runLoad } from './measure.ts';

const serverUrl = process.env.TENANCY_BENCH_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const isolations = (process.env.BENCH_ISOLATIONS ?? 'row,schema').split(',') as Isolation[];
const tenantsPer = 20;
const rowsPerTenant = 50;
const workers = 20;
const title = 'Quarterly notes on the customer account';
const text = 'Quarterly notes on the customer account. '.repeat(25); // about 1 KiB

const notes: Migration = {
  version: 2,
  name: 'bench notes',
  up: ({ table, secure }) => ['sealed_notes', 'plain_notes'].map((name) => {
    const type = name === 'sealed_notes' ? 'bytea' : 'text';
    return `
CREATE TABLE ${table(name)} (
  tenant_id text NOT NULL DEFAULT tenancy.current_tenant(),
  id text NOT NULL,
  title ${type} NOT NULL,
  text ${type} NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
${secure(name)}`;
  }).join('\n'),
};

type Side = 'sealed' | 'plain';
type Workload = 'read' | 'insert';

async function insert(t: TenantScope, side: Side, id: string): Promise<void> {
  const table = t.session.table(`${side}_notes`);
  const values = side === 'sealed'
    ? [t.crypto.seal('sealed_notes', 'title', id, title),
      t.crypto.seal('sealed_notes', 'text', id, text)]
    : [title, text];
  await t.session.query(`INSERT INTO ${table} (id, title, text) VALUES ($1, $2, $3)`,
    [id, ...values]);
}

async function read(t: TenantScope, side: Side, id: string): Promise<void> {
  const found = await t.session.query<{ title: string | Uint8Array; text: string | Uint8Array }>(
    `SELECT title, text, created_at FROM ${t.session.table(`${side}_notes`)} WHERE id = $1`,
    [id]);
  const row = found.rows[0];
  if (row === undefined) throw new Error('a seeded row is missing');
  const plain = side === 'sealed'
    ? t.crypto.open('sealed_notes', 'text', id, row.text as Uint8Array)
    : row.text as string;
  if (plain.length !== text.length) throw new Error('read back the wrong text');
  if (side === 'sealed') t.crypto.open('sealed_notes', 'title', id, row.title as Uint8Array);
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

async function main(): Promise<void> {
  const suffix = randomBytes(4).toString('hex');
  const database = `tenancy_bench_enc_${suffix}`;
  const prefix = `tbe${suffix}_`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'tenancy-bench-enc-'));
  const tenancy = await Tenancy.open({
    dataDir, logLevel: 'silent',
    regions: { local: { database: url.toString(), tenantDatabasePrefix: prefix,
      pool: { shared: workers, tenantDatabases: workers } } },
    limits: { requestsPerSecond: 0 },
  }, {
    migrations: [...builtinMigrations, notes],
    encryptedFields: [{ table: 'sealed_notes', idColumn: 'id', columns: ['title', 'text'] }],
  });
  const lines = ['| isolation | workload | sealed ops/s | plain ops/s | ratio | ' +
    'client CPU µs/op (sealed / plain) | rounds (sealed / plain) |',
  '| --- | --- | ---: | ---: | ---: | ---: | --- |'];
  try {
    for (const isolation of isolations) {
      const tenants = Array.from({ length: tenantsPer }, (_, i) => `enc-${isolation}-${i}`);
      const ids = Array.from({ length: rowsPerTenant }, (_, i) => `note-${i}`);
      for (const id of tenants) {
        await tenancy.tenants.create({ id, isolation });
        await tenancy.withTenant(id, async (t) => {
          for (const row of ids) {
            await insert(t, 'sealed', row);
            await insert(t, 'plain', row);
          }
        });
      }
      for (const workload of ['read', 'insert'] as Workload[]) {
        const result: Record<Side, number[]> = { sealed: [], plain: [] };
        const cpu: Record<Side, number[]> = { sealed: [], plain: [] };
        const op = (side: Side) => (): Promise<void> => tenancy.withTenant(pick(tenants),
          (t) => (workload === 'read' ? read(t, side, pick(ids)) : insert(t, side, randomUUID())));
        for (const side of ['sealed', 'plain'] as Side[]) {
          await runLoad(op(side), { workers, warmupMillis: 1000, durationMillis: 0 });
        }
        for (let round = 1; round <= rounds; round++) {
          const order: Side[] = round % 2 === 1 ? ['sealed', 'plain'] : ['plain', 'sealed'];
          for (const side of order) {
            const load = await runLoad(op(side), { workers, warmupMillis: 500,
              durationMillis: seconds * 1000 });
            result[side].push(load.opsPerSecond);
            cpu[side].push(load.clientCpuMicrosPerOp);
            process.stderr.write(`${isolation} ${workload} round ${round}: ${side} ` +
              `${Math.round(load.opsPerSecond)} ops/s\n`);
          }
        }
        const sealed = median(result.sealed);
        const plain = median(result.plain);
        const show = (values: number[]) => values.map((v) => Math.round(v)).join(', ');
        lines.push(`| ${isolation} | ${workload} | ${Math.round(sealed)} | ${Math.round(plain)} ` +
          `| ${(sealed / plain).toFixed(2)} | ${Math.round(median(cpu.sealed))} / ` +
          `${Math.round(median(cpu.plain))} | ${show(result.sealed)} / ${show(result.plain)} |`);
      }
    }
  } finally {
    await tenancy.close();
    await rm(dataDir, { recursive: true, force: true });
    const dbs = await admin.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $2)',
      [database, prefix]);
    for (const { datname } of dbs.rows) {
      await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    }
    await admin.end();
  }
  process.stdout.write(`sealed vs plain rows through Tenancy sessions: ${tenantsPer} tenants ` +
    `per isolation, ${workers} workers, medians of ${rounds} rounds of ${seconds} s\n\n` +
    `${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`encryption bench failed: ${err instanceof Error ? err.stack : err}\n`);
  process.exitCode = 1;
});
