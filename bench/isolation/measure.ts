// A closed-loop load: N workers, each starting its next operation as soon as the last one ends.
import { performance } from 'node:perf_hooks';

export interface LoadOptions {
  workers: number;
  warmupMillis: number;
  durationMillis: number;
  /** Stops the workers early (Ctrl-C); the measurement then throws. */
  signal?: AbortSignal | undefined;
}

export interface LoadResult {
  ops: number;
  seconds: number;
  opsPerSecond: number;
  /** This process's CPU time (user + system) per operation in the window, in microseconds. */
  clientCpuMicrosPerOp: number;
}

/**
 * Runs `op` from `workers` loops for the warm-up and then the measured window, without
 * stopping in between, and counts the operations that complete inside the window. The first
 * error ends the run: a benchmark that fails some operations measures nothing useful.
 */
export async function runLoad(op: () => Promise<void>, options: LoadOptions):
  Promise<LoadResult> {
  const start = performance.now() + options.warmupMillis;
  const end = start + options.durationMillis;
  let ops = 0;
  let failure: unknown;
  // Timers sample this process's CPU at the window's edges; the client shares the machine with
  // the server, so CPU the library spends is throughput the server does not get.
  let cpuAtStart: NodeJS.CpuUsage | undefined;
  let cpuInWindow: NodeJS.CpuUsage | undefined;
  const startTimer = setTimeout(() => {
    cpuAtStart = process.cpuUsage();
  }, options.warmupMillis);
  const endTimer = setTimeout(() => {
    cpuInWindow = process.cpuUsage(cpuAtStart);
  }, options.warmupMillis + options.durationMillis);
  const worker = async (): Promise<void> => {
    while (failure === undefined && !options.signal?.aborted) {
      if (performance.now() >= end) return;
      try {
        await op();
      } catch (err) {
        failure ??= err;
        return;
      }
      const now = performance.now();
      if (now >= start && now < end) ops++;
    }
  };
  await Promise.all(Array.from({ length: options.workers }, worker));
  clearTimeout(startTimer);
  clearTimeout(endTimer);
  if (failure !== undefined) throw failure;
  options.signal?.throwIfAborted();
  const seconds = options.durationMillis / 1000;
  const cpu = cpuInWindow ?? process.cpuUsage(cpuAtStart);
  return {
    ops, seconds, opsPerSecond: ops / seconds,
    clientCpuMicrosPerOp: ops === 0 ? Number.NaN : (cpu.user + cpu.system) / ops,
  };
}

/** The middle value; the mean of the middle two for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
