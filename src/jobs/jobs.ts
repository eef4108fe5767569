// `tenancy.jobs`: background work that names its tenant, refused without one, run in its scope.
import { TenancyError, isTenancyError } from '../errors.ts';
import type { LogHook } from '../log.ts';
import { parseTenantId, type TenantId } from '../tenant-id.ts';
import type {
  DeadJob, JobOutcome, JobQueueAdapter, QueuedJob, WorkerHandle,
} from './job-queue.ts';

export type { DeadJob } from './job-queue.ts';

/** What a handler learns about its job besides the tenant scope. */
export interface JobInfo {
  id: string;
  name: string;
  tenantId: TenantId;
  payload: unknown;
  attempt: number;
}

export type JobHandler<Scope> = (scope: Scope, job: JobInfo) => Promise<void>;

export interface WorkOptions {
  /** Jobs this worker runs at once (default 1). */
  concurrency?: number;
}

export interface JobsOptions<Scope> {
  adapter: JobQueueAdapter;
  /** Where a tenant lives: undefined when the catalog has no live tenant of that id. */
  regionOf: (tenant: TenantId) => Promise<string | undefined>;
  /** One fresh tenant session per job: `withTenant` of the facade. */
  runAsTenant: (tenant: TenantId, fn: (scope: Scope) => Promise<void>) => Promise<void>;
  log: LogHook;
}

const nameShape = /^[a-z][a-z0-9_-]{0,62}$/;
const maxPayloadBytes = 1024 * 1024;

// Failures that no retry can fix: the job is dead-lettered at once.
const fatal = new Set(['TENANT_NOT_FOUND', 'TENANT_ID_INVALID', 'JOB_TENANT_REQUIRED']);

function checkName(name: string): void {
  if (typeof name !== 'string' || !nameShape.test(name)) {
    throw new TenancyError('JOB_INVALID', {
      params: { detail: 'a job name is a lowercase slug of at most 63 characters' },
    });
  }
}

function checkPayload(payload: unknown): void {
  let text: string | undefined;
  try {
    text = JSON.stringify(payload);
  } catch {
    text = undefined;
  }
  if (text === undefined) {
    throw new TenancyError('JOB_INVALID', { params: { detail: 'the payload must be JSON' } });
  }
  if (Buffer.byteLength(text) > maxPayloadBytes) {
    throw new TenancyError('JOB_INVALID', { params: { detail: 'the payload is over 1 MiB' } });
  }
}

export class Jobs<Scope> {
  readonly #options: JobsOptions<Scope>;
  readonly #workers = new Set<WorkerHandle>();

  constructor(options: JobsOptions<Scope>) {
    this.#options = options;
  }

  get adapter(): JobQueueAdapter {
    return this.#options.adapter;
  }

  /**
   * Queues a job for a tenant, in the tenant's region. A missing or invalid tenant is refused
   * here, before anything is stored.
   *
   * @example
   * await tenancy.jobs.enqueue('acme', 'reindex', { documentId: 'd-1' });
   */
  async enqueue(tenantId: string, name: string, payload: unknown = null): Promise<string> {
    if (tenantId === undefined || tenantId === null || tenantId === '') {
      throw new TenancyError('JOB_TENANT_REQUIRED');
    }
    const tenant = parseTenantId(tenantId);
    checkName(name);
    checkPayload(payload);
    const region = await this.#options.regionOf(tenant);
    if (region === undefined) throw new TenancyError('TENANT_NOT_FOUND');
    return this.#options.adapter.enqueue({ queue: name, region, tenantId: tenant, payload });
  }

  /**
   * Runs `handler` for each job of this name, each inside a fresh `withTenant` of the job's own
   * tenant: nothing of one job's tenant reaches the next job.
   */
  work(name: string, handler: JobHandler<Scope>, options: WorkOptions = {}): WorkerHandle {
    checkName(name);
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 100) {
      throw new TenancyError('JOB_INVALID', { params: { detail: 'concurrency is 1 to 100' } });
    }
    const inner = this.#options.adapter.work(name, concurrency, (job) => this.#run(job, handler));
    const handle: WorkerHandle = {
      close: async () => {
        this.#workers.delete(handle);
        await inner.close();
      },
    };
    this.#workers.add(handle);
    return handle;
  }

  /** Dead-lettered jobs of a name, without their payloads. */
  dead(name: string, limit = 100): Promise<DeadJob[]> {
    checkName(name);
    return this.#options.adapter.dead(name, Math.max(1, Math.min(limit, 1000)));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#workers].map((worker) => worker.close()));
    await this.#options.adapter.close();
  }

  /** Checks the job's tenant, then runs it; every way it can end becomes an outcome. */
  async #run(job: QueuedJob, handler: JobHandler<Scope>): Promise<JobOutcome> {
    const refused = await this.#refusal(job);
    if (refused !== undefined) {
      this.#options.log({ level: 'warn', event: 'job.refused', code: refused });
      return { status: 'dead', reason: refused };
    }
    const tenant = job.tenantId as TenantId;
    let thrown: unknown;
    try {
      await this.#options.runAsTenant(tenant, async (scope) => {
        try {
          await handler(scope, {
            id: job.id, name: job.queue, tenantId: tenant, payload: job.payload,
            attempt: job.attempt,
          });
        } catch (err) {
          thrown = err;
          throw err;
        }
      });
      return { status: 'done' };
    } catch (err) {
      // Only a stable code is kept: a handler's message may quote the tenant's data. The
      // session wraps what the handler threw, so the handler's own error decides the code.
      const cause = thrown ?? err;
      const code = isTenancyError(cause) ? cause.code : 'JOB_FAILED';
      this.#options.log({ level: 'warn', event: 'job.failed', tenantId: tenant, code });
      return fatal.has(code) ? { status: 'dead', reason: code } : { status: 'retry', reason: code };
    }
  }

  /** Why the job may not run, or undefined when its tenant checks out. */
  async #refusal(job: QueuedJob): Promise<string | undefined> {
    const named = job.tenantId;
    if (named === undefined || named === null || named === '') return 'JOB_TENANT_REQUIRED';
    let tenant: TenantId;
    try {
      tenant = parseTenantId(named);
    } catch {
      return 'TENANT_ID_INVALID';
    }
    const region = await this.#options.regionOf(tenant);
    if (region === undefined) return 'TENANT_NOT_FOUND';
    // A job sits in the region of its tenant; one found elsewhere was put there by hand.
    if (region !== job.region) return 'TENANT_REGION_MISMATCH';
    return undefined;
  }
}
