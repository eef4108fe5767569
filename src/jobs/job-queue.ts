// The contract of a job queue adapter: jobs carry their tenant and region, workers claim them.

/** A job as a queue holds it. `tenantId` is whatever the queue says: checked before any use. */
export interface QueuedJob {
  /** Unique within the queue and region. */
  id: string;
  queue: string;
  region: string;
  tenantId: unknown;
  payload: unknown;
  /** 1 on the first run. */
  attempt: number;
}

export interface NewJob {
  queue: string;
  region: string;
  tenantId: string;
  payload: unknown;
}

/** How a run ended, as the adapter must record it. */
export type JobOutcome =
  | { status: 'done' }
  /** Tried again later unless its attempts are used up (then dead-lettered with `reason`). */
  | { status: 'retry'; reason: string }
  /** Never run again: kept aside with `reason` for an operator. */
  | { status: 'dead'; reason: string };

/** A dead-lettered job, without its payload. */
export interface DeadJob {
  id: string;
  queue: string;
  region: string;
  /** The tenant the job named, when that was a valid tenant id. */
  tenantId: string | null;
  reason: string;
  attempts: number;
}

/** Runs one claimed job to an outcome; the adapter records the outcome. */
export type JobRunner = (job: QueuedJob) => Promise<JobOutcome>;

export interface WorkerHandle {
  /** Stops claiming and waits for the jobs in hand to finish. */
  close(): Promise<void>;
}

export interface JobQueueAdapter {
  readonly kind: 'postgres' | 'bullmq';
  prepare(): Promise<void>;
  /** Stores the job in the region's queue; resolves to its id. */
  enqueue(job: NewJob): Promise<string>;
  /** Starts `concurrency` runners on one queue name in every region. */
  work(queue: string, concurrency: number, run: JobRunner): WorkerHandle;
  dead(queue: string, limit: number): Promise<DeadJob[]>;
  close(): Promise<void>;
}
