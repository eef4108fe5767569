// What both sides of a comparison offer: one operation of a workload, on a tenant, and a close.
import type { Workload } from './options.ts';

export type SideName = 'tenancy' | 'raw';

export interface BenchSide {
  readonly name: SideName;
  /** Runs one operation; `docId` is a seeded id for reads and a fresh random id for inserts. */
  run(workload: Workload, tenant: string, docId: string): Promise<void>;
  /** Ends every connection the side opened, so the next phase starts from none. */
  close(): Promise<void>;
}

/** What an inserted document holds, the same on both sides. */
export const insertTitle = 'Bench note';
export const insertText = 'A short note written by the isolation benchmark. '.repeat(4);
