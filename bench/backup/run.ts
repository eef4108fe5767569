// One tenant among several on the Postgres server: its backup and restore through Tenancy
// against pg_dump -Fc / pg_restore of the same data (its schema, or its database); in row
// isolation, Tenancy's backup time with 1 and with N other tenants beside it. Medians, ratios.
//   node --import tsx bench/backup/run.ts [--size-mb 100] [--tenants 10] [--rounds 3]
//     [--isolations schema,database,row]
import { execFile } from 'node:child_process';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { Tenancy, type Isolation } from '../../src/index.ts';
import { freshDeployment, serverUrl, type TestDeployment } from '../../test/support/drivers.ts';

const run = promisify(execFile);

const usage = 'usage: npm run bench:backup -- [--size-mb 100] [--tenants 10] [--rounds 3] ' +
  '[--isolations schema,database,row]';
const known = new Set(['--size-mb', '--tenants', '--rounds', '--isolations']);
for (let i = 2; i < process.argv.length; i += 2) {
  const arg = process.argv[i] as string;
  if (!known.has(arg)) {
    process.stderr.write(`${arg === '--help' ? '' : `unknown argument ${arg}\n`}${usage}\n`);
    process.exit(arg === '--help' ? 0 : 2);
  }
}

function flag(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : (process.argv[at + 1] ?? fallback);
}

const sizeMb = Number(flag('size-mb', '100'));
const others = Number(flag('tenants', '10'));
const rounds = Number(flag('rounds', '3'));
const chosen = flag('isolations', 'schema,database,row').split(',') as Isolation[];
const rowBytes = 1024;
const log = (line: string): void => void process.stderr.write(`${line}\n`);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] as number
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

function urlOf(database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Fills a tenant's documents with `sizeMb` of envelope-like random bytes (1 KiB a row), as
 * superuser SQL beside the library: what is measured is moving rows, not sealing them.
 */
async function fill(database: string, table: string, tenant: string): Promise<void> {
  const client = new pg.Client({ connectionString: urlOf(database) });
  await client.connect();
  try {
    const rows = Math.round(sizeMb * 1024 * 1024 / rowBytes);
    for (let from = 0; from < rows; from += 20_000) {
      await client.query(`INSERT INTO ${table} (tenant_id, id, title, text, metadata)
        SELECT $1, 'doc-' || i, decode(md5(i::text), 'hex'),
          (SELECT decode(string_agg(md5(i::text || '/' || g::text), ''), 'hex')
             FROM generate_series(1, ${rowBytes / 16}) g),
          jsonb_build_object('n', i)
        FROM generate_series($2::int, $3::int) i`,
      [tenant, from, Math.min(rows, from + 20_000) - 1]);
    }
    await client.query(`ANALYZE ${table}`);
  } finally {
    await client.end();
  }
}

interface Placed {
  database: string;
  table: string;
  schema: string;
}

function placed(deployment: TestDeployment, isolation: Isolation, tenant: string): Placed {
  const shared = new URL(deployment.databaseUrl as string).pathname.slice(1);
  if (isolation === 'row') return { database: shared, schema: 'tenancy_rows',
    table: '"tenancy_rows"."documents"' };
  const schema = `tenant_${tenant}`;
  return {
    database: isolation === 'database' ? `${deployment.prefix}${tenant}` : shared,
    schema, table: `"${schema}"."documents"`,
  };
}

async function benchIsolation(isolation: Isolation): Promise<string[]> {
  const deployment = await freshDeployment('pg');
  const tenancy = await Tenancy.open(deployment.config);
  const lines: string[] = [];
  try {
    const target = `bench-${isolation.slice(0, 3)}`;
    const neighbours = Array.from({ length: others },
      (_, n) => `near-${isolation.slice(0, 3)}-${n}`);
    for (const id of [target, ...neighbours]) {
      await tenancy.tenants.create({ id, isolation });
    }
    log(`${isolation}: filling ${others + 1} tenants of ${sizeMb} MB`);
    // In row isolation the target goes first and alone, so its backup is timed with one
    // neighbour and then again with all of them.
    const place = placed(deployment, isolation, target);
    await fill(place.database, place.table, target);
    const fillNeighbours = async (list: readonly string[]) => {
      for (const id of list) {
        const p = placed(deployment, isolation, id);
        await fill(p.database, p.table, id);
      }
    };
    const backupTimes = async (): Promise<number[]> => {
      const times: number[] = [];
      for (let n = 0; n < rounds; n += 1) {
        times.push(await timed(() => tenancy.backups.create(target)));
      }
      return times;
    };
    if (isolation === 'row') {
      await fillNeighbours(neighbours.slice(0, 1));
      const withOne = median(await backupTimes());
      await fillNeighbours(neighbours.slice(1));
      const withAll = median(await backupTimes());
      lines.push(`| row | backup, 1 other tenant | ${withOne.toFixed(0)} ms | | |`);
      lines.push(`| row | backup, ${others} other tenants | ${withAll.toFixed(0)} ms | | ` +
        `${(withAll / withOne).toFixed(2)} (vs 1 other) |`);
    } else {
      await fillNeighbours(neighbours);
    }
    const ours: { backup: number[]; restore: number[] } = { backup: [], restore: [] };
    const theirs: { backup: number[]; restore: number[] } = { backup: [], restore: [] };
    const dump = join(deployment.dataDir, 'dump.fc');
    const dumpArgs = isolation === 'schema'
      ? ['-Fc', '-n', place.schema, '-f', dump, urlOf(place.database)]
      : ['-Fc', '-f', dump, urlOf(place.database)];
    for (let n = 0; n < rounds; n += 1) {
      // The side that goes first alternates, so neither always meets a warm cache.
      const sides = [
        async () => {
          let id = '';
          ours.backup.push(await timed(async () => {
            id = (await tenancy.backups.create(target)).id;
          }));
          ours.restore.push(await timed(() => tenancy.backups.restore(target, id)));
        },
        async () => {
          if (isolation === 'row') return;
          theirs.backup.push(await timed(() => run('pg_dump', dumpArgs)));
          theirs.restore.push(await timed(() => run('pg_restore',
            ['--clean', '--if-exists', '--single-transaction', '-d', urlOf(place.database),
              dump])));
        },
      ];
      if (n % 2 === 1) sides.reverse();
      for (const side of sides) await side();
    }
    const archive = (await tenancy.backups.list(target))[0];
    const dumpSize = isolation === 'row' ? 0 : (await stat(dump)).size;
    for (const op of ['backup', 'restore'] as const) {
      const mine = median(ours[op]);
      if (isolation === 'row') {
        lines.push(`| row | ${op} | ${mine.toFixed(0)} ms | (no per-tenant pg_dump) | |`);
        continue;
      }
      const base = median(theirs[op]);
      lines.push(`| ${isolation} | ${op} | ${mine.toFixed(0)} ms | ${base.toFixed(0)} ms | ` +
        `${(base / mine).toFixed(2)} |`);
    }
    lines.push(`| ${isolation} | size | ${((archive?.bytes ?? 0) / 1048576).toFixed(1)} MiB | ` +
      `${(dumpSize / 1048576).toFixed(1)} MiB | |`);
    await rm(dump, { force: true });
  } finally {
    await tenancy.close();
    await deployment.cleanup();
  }
  return lines;
}

const table = [
  `tenant of ${sizeMb} MB among ${others} others, medians of ${rounds} rounds; ` +
    'ratio = pg_dump time / Tenancy time (above 1: Tenancy faster)',
  '',
  '| isolation | operation | Tenancy | pg_dump / pg_restore | ratio |',
  '| --- | --- | ---: | ---: | ---: |',
];
for (const isolation of chosen) table.push(...await benchIsolation(isolation));
process.stdout.write(`${table.join('\n')}\n`);
