// The BullMQ adapter: one Redis queue per job name and region, each job carrying its tenant.
import type { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { TenancyError } from '../errors.ts';
import { isTenantId } from '../tenant-id.ts';
import type {
  DeadJob, JobQueueAdapter, JobRunner, NewJob, WorkerHandle,
} from './job-queue.ts';

export interface BullmqQueueOptions {
  redisUrl: string;
  /** Key prefix in Redis, so deployments (and test runs) sharing one Redis stay apart. */
  prefix: string;
  regions: readonly string[];
  maxAttempts: number;
}

interface JobData {
  tenantId?: unknown;
  payload?: unknown;
}

type Bull = typeof import('bullmq');

// A queue that cannot reach Redis would otherwise wait for it forever.
const enqueueTimeoutMillis = 5000;

/**
 * BullMQ keeps failed jobs in its failed set: that is the dead-letter list here. A job refused
 * for its tenant fails with UnrecoverableError, so it is never retried.
 */
export class BullmqQueue implements JobQueueAdapter {
  readonly kind = 'bullmq';
  readonly #options: BullmqQueueOptions;
  readonly #queues = new Map<string, Queue>();
  readonly #workers = new Set<Worker>();
  #bull: Promise<Bull> | undefined;
  #redis: Redis | undefined;

  constructor(options: BullmqQueueOptions) {
    this.#options = options;
  }

  /** Nothing to lay out; Redis is reached on first use so an unused adapter costs nothing. */
  async prepare(): Promise<void> {}

  async enqueue(job: NewJob): Promise<string> {
    const queue = await this.#queue(job.queue, job.region);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TenancyError('JOBS_UNAVAILABLE')), enqueueTimeoutMillis);
    });
    try {
      const added = await Promise.race([queue.add(job.queue, {
        tenantId: job.tenantId, payload: job.payload,
      } satisfies JobData, {
        attempts: this.#options.maxAttempts,
        backoff: { type: 'exponential', delay: 100 },
        removeOnComplete: true,
        removeOnFail: false,
      }), timeout]);
      return String(added.id);
    } catch (err) {
      if (err instanceof TenancyError) throw err;
      throw new TenancyError('JOBS_UNAVAILABLE', { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  work(queue: string, concurrency: number, run: JobRunner): WorkerHandle {
    const started = this.#startWorkers(queue, concurrency, run);
    return {
      close: async () => {
        const workers = await started;
        await Promise.allSettled(workers.map((worker) => worker.close()));
        for (const worker of workers) this.#workers.delete(worker);
      },
    };
  }

  async dead(queue: string, limit: number): Promise<DeadJob[]> {
    const out: DeadJob[] = [];
    for (const region of this.#options.regions) {
      const failed = await (await this.#queue(queue, region)).getFailed(0, limit - 1);
      for (const job of failed) {
        const data = (job.data ?? {}) as JobData;
        out.push({
          id: String(job.id), queue, region,
          tenantId: isTenantId(data.tenantId) ? data.tenantId : null,
          reason: job.failedReason, attempts: job.attemptsMade,
        });
      }
    }
    return out.slice(0, limit);
  }

  /** Removes every key of these queues from Redis: for tests and for tearing a deployment down. */
  async obliterate(queue: string): Promise<void> {
    for (const region of this.#options.regions) {
      await (await this.#queue(queue, region)).obliterate({ force: true });
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#workers].map((worker) => worker.close()));
    this.#workers.clear();
    await Promise.allSettled([...this.#queues.values()].map((queue) => queue.close()));
    this.#queues.clear();
    if (this.#redis !== undefined) {
      await this.#redis.quit().catch(() => this.#redis?.disconnect());
      this.#redis = undefined;
    }
  }

  async #startWorkers(queue: string, concurrency: number, run: JobRunner): Promise<Worker[]> {
    const bull = await this.#load();
    const connection = await this.#connection();
    return this.#options.regions.map((region) => {
      const worker = new bull.Worker(this.#name(queue, region), async (job: Job) => {
        const data = (job.data ?? {}) as JobData;
        const outcome = await run({
          id: String(job.id), queue, region, tenantId: data.tenantId, payload: data.payload,
          attempt: job.attemptsMade + 1,
        });
        if (outcome.status === 'dead') throw new bull.UnrecoverableError(outcome.reason);
        // Only the stable reason code goes to Redis, never a handler's message.
        if (outcome.status === 'retry') throw new Error(outcome.reason);
      }, { connection, prefix: this.#options.prefix, concurrency });
      // Without a listener an 'error' event (Redis gone) would end the process.
      worker.on('error', () => {});
      this.#workers.add(worker);
      return worker;
    });
  }

  // BullMQ allows no ':' in a queue name; region and job names are plain slugs.
  #name(queue: string, region: string): string {
    return `${region}.${queue}`;
  }

  async #queue(queue: string, region: string): Promise<Queue> {
    const name = this.#name(queue, region);
    const existing = this.#queues.get(name);
    if (existing !== undefined) return existing;
    const bull = await this.#load();
    const created = new bull.Queue(name, { connection: await this.#connection(),
      prefix: this.#options.prefix });
    created.on('error', () => {});
    this.#queues.set(name, created);
    return created;
  }

  #load(): Promise<Bull> {
    this.#bull ??= import('bullmq');
    return this.#bull;
  }

  async #connection(): Promise<Redis> {
    if (this.#redis === undefined) {
      const { Redis: Client } = await import('ioredis');
      // BullMQ's blocking calls need maxRetriesPerRequest null; it duplicates this client for them.
      this.#redis = new Client(this.#options.redisUrl, { maxRetriesPerRequest: null });
      this.#redis.on('error', () => {});
    }
    return this.#redis;
  }
}
