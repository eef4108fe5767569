// The bench's settings: environment variables and flags, checked once before anything runs.
import type { Isolation } from '../../src/config/schema.ts';

export type Workload = 'read' | 'insert';

export interface BenchOptions {
  serverUrl: string;
  seconds: number;
  rounds: number;
  warmupSeconds: number;
  isolations: readonly Isolation[];
  workloads: readonly Workload[];
  json: boolean;
}

/** Connections each side may hold: the pool size of row/schema, the ceiling of database. */
export const connectionBudget = 20;
export const tenantCounts: Readonly<Record<Isolation, number>> = {
  row: 100, schema: 100, database: 200,
};
export const documentsPerTenant = 50;
/** Tenancy ops/s over raw ops/s that each isolation must reach. */
export const targets: Readonly<Record<Isolation, number>> = {
  row: 0.85, schema: 0.85, database: 0.75,
};

const allIsolations: readonly Isolation[] = ['row', 'schema', 'database'];
const allWorkloads: readonly Workload[] = ['read', 'insert'];

function positive(name: string, fallback: number, env: NodeJS.ProcessEnv): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

function subset<T extends string>(name: string, all: readonly T[], env: NodeJS.ProcessEnv): T[] {
  const raw = env[name];
  if (raw === undefined || raw === '') return [...all];
  const picked = raw.split(',').map((part) => part.trim());
  for (const part of picked) {
    if (!all.includes(part as T)) throw new Error(`${name}: "${part}" is not one of ${all}`);
  }
  return all.filter((item) => picked.includes(item));
}

/** Reads BENCH_* and TENANCY_BENCH_DATABASE_URL from `env` and `--json` from `argv`. */
export function readOptions(env: NodeJS.ProcessEnv, argv: readonly string[]): BenchOptions {
  for (const arg of argv) {
    if (arg !== '--json') throw new Error(`unknown argument ${arg} (only --json is known)`);
  }
  return {
    serverUrl: env.TENANCY_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    seconds: positive('BENCH_SECONDS', 5, env),
    rounds: Math.round(positive('BENCH_ROUNDS', 5, env)),
    warmupSeconds: positive('BENCH_WARMUP_SECONDS', 1, env),
    isolations: subset('BENCH_ISOLATIONS', allIsolations, env),
    workloads: subset('BENCH_WORKLOADS', allWorkloads, env),
    json: argv.includes('--json'),
  };
}
