// Tenancy against raw pg, per isolation: point reads and inserts on the same connection budget.
import { randomUUID } from 'node:crypto';
import type { Isolation } from '../../src/config/schema.ts';
import { createDeployment, seededDocumentIds, type BenchDeployment } from './deployment.ts';
import { runLoad, type LoadResult } from './measure.ts';
import { connectionBudget, readOptions, type BenchOptions, type Workload } from './options.ts';
import { openRawSide } from './raw-side.ts';
import { summarize, toJson, toTable, type CaseResult, type CaseRounds } from './report.ts';
import type { BenchSide, SideName } from './side.ts';
import { openTenancySide } from './tenancy-side.ts';

const progress = (line: string): void => void process.stderr.write(`${line}\n`);

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)] as T;
}

/** One measured phase: open a side with no connections, load it, close it again. */
async function phase(open: () => Promise<BenchSide>, tenants: readonly string[],
  workload: Workload, options: BenchOptions, signal: AbortSignal, measure = true):
  Promise<LoadResult> {
  const side = await open();
  try {
    const op = (): Promise<void> => side.run(workload, pick(tenants),
      workload === 'read' ? pick(seededDocumentIds) : randomUUID());
    return await runLoad(op, {
      workers: connectionBudget,
      warmupMillis: options.warmupSeconds * 1000,
      durationMillis: measure ? options.seconds * 1000 : 0,
      signal,
    });
  } finally {
    await side.close();
  }
}

/** Rounds of one isolation and workload; the side that goes first alternates each round. */
async function runCase(deployment: BenchDeployment, isolation: Isolation, workload: Workload,
  options: BenchOptions, signal: AbortSignal): Promise<CaseRounds> {
  const rounds: CaseRounds = {
    isolation, workload, tenancy: [], raw: [], tenancyCpu: [], rawCpu: [],
  };
  const openers: Record<SideName, () => Promise<BenchSide>> = {
    tenancy: () => openTenancySide(deployment),
    raw: async () => openRawSide(deployment, isolation),
  };
  // An unmeasured pass of each side first, so neither meets the case's code paths cold in the
  // JIT (round 1 always starts with Tenancy).
  for (const name of ['tenancy', 'raw'] as const) {
    await phase(openers[name], deployment.tenants[isolation], workload, options, signal, false);
  }
  for (let round = 1; round <= options.rounds; round++) {
    const order: SideName[] = round % 2 === 1 ? ['tenancy', 'raw'] : ['raw', 'tenancy'];
    for (const name of order) {
      const result = await phase(openers[name], deployment.tenants[isolation], workload,
        options, signal);
      rounds[name].push(result.opsPerSecond);
      rounds[name === 'tenancy' ? 'tenancyCpu' : 'rawCpu'].push(result.clientCpuMicrosPerOp);
      progress(`${isolation} ${workload} round ${round}/${options.rounds}: ${name} ` +
        `${Math.round(result.opsPerSecond)} ops/s, ` +
        `${Math.round(result.clientCpuMicrosPerOp)} µs client CPU/op`);
    }
  }
  return rounds;
}

async function main(): Promise<void> {
  const options = readOptions(process.env, process.argv.slice(2));
  const server = new URL(options.serverUrl).host;
  const controller = new AbortController();
  // Ctrl-C stops the load, and the finally below still drops every database the run made.
  process.once('SIGINT', () => controller.abort(new Error('interrupted')));
  const deployment = await createDeployment(options.serverUrl, options.isolations, progress,
    controller.signal);
  const results: CaseResult[] = [];
  try {
    for (const isolation of options.isolations) {
      for (const workload of options.workloads) {
        results.push(summarize(
          await runCase(deployment, isolation, workload, options, controller.signal)));
      }
    }
  } finally {
    await deployment.drop();
    progress(`dropped ${deployment.database} and the ${deployment.prefix}* tenant databases`);
  }
  process.stdout.write(`${options.json
    ? toJson(options, results, server)
    : toTable(options, results, server)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`isolation bench failed: ${err instanceof Error ? err.stack : err}\n`);
  process.exitCode = 1;
});
