// Turns the rounds into medians, ratios and marks, as a table for people or JSON for machines.
import type { Isolation } from '../../src/config/schema.ts';
import { median } from './measure.ts';
import type { BenchOptions, Workload } from './options.ts';
import { connectionBudget, documentsPerTenant, targets, tenantCounts } from './options.ts';
import { rawApproaches } from './raw-side.ts';

export interface CaseRounds {
  isolation: Isolation;
  workload: Workload;
  /** ops/s of each round, in round order. */
  tenancy: number[];
  raw: number[];
  /** This process's CPU microseconds per operation, each round. */
  tenancyCpu: number[];
  rawCpu: number[];
}

export interface CaseResult extends CaseRounds {
  tenancyMedian: number;
  rawMedian: number;
  /** Median Tenancy ops/s over median raw ops/s. */
  ratio: number;
  target: number;
  pass: boolean;
  /** Median client CPU microseconds per operation of each side. */
  tenancyCpuMedian: number;
  rawCpuMedian: number;
}

/** Medians of each side, their ratio and whether it meets the isolation's target. */
export function summarize(rounds: CaseRounds): CaseResult {
  const tenancyMedian = median(rounds.tenancy);
  const rawMedian = median(rounds.raw);
  const ratio = tenancyMedian / rawMedian;
  const target = targets[rounds.isolation];
  return {
    ...rounds, tenancyMedian, rawMedian, ratio, target, pass: ratio >= target,
    tenancyCpuMedian: median(rounds.tenancyCpu), rawCpuMedian: median(rounds.rawCpu),
  };
}

function settings(options: BenchOptions): Record<string, unknown> {
  return {
    seconds: options.seconds,
    warmupSeconds: options.warmupSeconds,
    rounds: options.rounds,
    concurrency: connectionBudget,
    connectionBudget,
    tenants: Object.fromEntries(options.isolations.map((i) => [i, tenantCounts[i]])),
    documentsPerTenant,
    node: process.version,
  };
}

/** The whole run as one JSON document. */
export function toJson(options: BenchOptions, results: readonly CaseResult[],
  server: string): string {
  const rawBaselines = Object.fromEntries(options.isolations.map((i) => [i, rawApproaches[i]]));
  return JSON.stringify({ settings: { ...settings(options), server }, rawBaselines, results },
    null, 2);
}

const fmt = (value: number): string => Math.round(value).toLocaleString('en-US');

/** A fixed-width table with one line per isolation and workload, then how raw was done. */
export function toTable(options: BenchOptions, results: readonly CaseResult[],
  server: string): string {
  const header = ['isolation', 'workload', 'tenancy ops/s', 'raw ops/s', 'ratio', 'target',
    'result', 'CPU µs/op', 'rounds tenancy | raw'];
  const rows = results.map((r) => [
    r.isolation, r.workload, fmt(r.tenancyMedian), fmt(r.rawMedian), r.ratio.toFixed(3),
    `>= ${r.target.toFixed(2)}`, r.pass ? 'PASS' : 'BELOW',
    `${fmt(r.tenancyCpuMedian)} | ${fmt(r.rawCpuMedian)}`,
    `${r.tenancy.map(fmt).join(' ')} | ${r.raw.map(fmt).join(' ')}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const numeric = new Set([2, 3, 4]);
  const line = (cells: string[]): string => cells
    .map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
    .join('  ').trimEnd();
  const tenants = options.isolations.map((i) => `${tenantCounts[i]} ${i}`).join(', ');
  return [
    `Tenancy vs raw pg, tenant-scoped point reads and inserts (${server})`,
    `${tenants} tenants, ${documentsPerTenant} seeded documents each; ${connectionBudget} ` +
      `workers on ${connectionBudget} connections per side; random tenant per operation`,
    `${options.rounds} round(s) of ${options.seconds} s after ${options.warmupSeconds} s ` +
      'warm-up, Tenancy and raw alternating; medians of the rounds',
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    'Both sides send BEGIN; SELECT tenancy.enter_tenant($1, $2); the statement; COMMIT, as ' +
      'tenancy_runtime; Tenancy seals titles and texts, raw sends them in the clear.',
    'CPU µs/op: this process\'s CPU time per operation (Tenancy | raw), median of the rounds.',
    ...options.isolations.map((i) => `raw ${i}: ${rawApproaches[i]}`),
  ].join('\n');
}
