// The built-in queue: a table in each region's shared database, claimed with SKIP LOCKED.
import { quoteIdent } from '../storage/sql.ts';
import type { Database } from '../storage/driver.ts';
import { isTenantId } from '../tenant-id.ts';
import type {
  DeadJob, JobOutcome, JobQueueAdapter, JobRunner, NewJob, QueuedJob, WorkerHandle,
} from './job-queue.ts';

export interface PostgresQueueOptions {
  /** Each region's shared database: a job's payload stays in its tenant's region. */
  regions: ReadonlyMap<string, Database>;
  runtimeRole: (region: string) => string;
  maxAttempts: number;
  pollMillis: number;
  /** A claimed job not finished within this long is taken to be lost and claimed again. */
  leaseMillis?: number;
  /** Told when claiming or finishing a job failed (the database was unreachable, say). */
  onError?: () => void;
}

interface ClaimedRow {
  id: string | number;
  tenant_id: string | null;
  payload: unknown;
  attempts: number;
}

// tenant_id is NOT NULL: a job without a tenant cannot even be stored. Everything else about
// the tenant (valid id, known, in this region) is checked by the runner before each run.
function tableSql(runtimeRole: string): string {
  return `
CREATE TABLE IF NOT EXISTS tenancy.jobs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue text NOT NULL,
  tenant_id text NOT NULL,
  payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  run_at timestamptz NOT NULL DEFAULT now(),
  locked_until timestamptz,
  dead_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS jobs_ready ON tenancy.jobs (queue, status, run_at, id);
REVOKE ALL ON tenancy.jobs FROM PUBLIC;
REVOKE ALL ON tenancy.jobs FROM ${quoteIdent(runtimeRole)};`;
}

const sleep = (millis: number, wake: { promise: Promise<void> }): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, millis);
    timer.unref?.();
    void wake.promise.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });

export class PostgresQueue implements JobQueueAdapter {
  readonly kind = 'postgres';
  readonly #options: PostgresQueueOptions;
  readonly #workers = new Set<WorkerHandle>();
  // Resolved when a job is enqueued in this process, so idle local workers start at once.
  #wake = { promise: new Promise<void>(() => {}), resolve: () => {} };

  constructor(options: PostgresQueueOptions) {
    this.#options = options;
    this.#renewWake();
  }

  async prepare(): Promise<void> {
    for (const [region, db] of this.#options.regions) {
      await db.exec(tableSql(this.#options.runtimeRole(region)));
    }
  }

  async enqueue(job: NewJob): Promise<string> {
    const result = await this.#db(job.region).transaction('admin', (tx) =>
      tx.query<{ id: string | number }>(
        'INSERT INTO tenancy.jobs (queue, tenant_id, payload) VALUES ($1, $2, $3) RETURNING id',
        [job.queue, job.tenantId, JSON.stringify(job.payload)],
      ));
    const wake = this.#wake;
    this.#renewWake();
    wake.resolve();
    return String(result.rows[0]?.id);
  }

  work(queue: string, concurrency: number, run: JobRunner): WorkerHandle {
    let stopped = false;
    const regions = [...this.#options.regions.keys()];
    let turn = 0;
    const loop = async (): Promise<void> => {
      while (!stopped) {
        let job: QueuedJob | undefined;
        try {
          // Round robin over the regions, so one busy region does not starve the others.
          for (let i = 0; i < regions.length && job === undefined && !stopped; i++) {
            const region = regions[(turn + i) % regions.length] as string;
            job = await this.#claim(queue, region);
          }
          turn += 1;
          if (job !== undefined) await this.#finish(job, await run(job));
        } catch {
          // The database went away for a moment: the claim (if any) expires and is retried.
          this.#options.onError?.();
          job = undefined;
        }
        if (job === undefined && !stopped) await sleep(this.#options.pollMillis, this.#wake);
      }
    };
    const loops = Array.from({ length: concurrency }, () => loop());
    const handle: WorkerHandle = {
      close: async () => {
        stopped = true;
        this.#workers.delete(handle);
        const wake = this.#wake;
        this.#renewWake();
        wake.resolve();
        await Promise.allSettled(loops);
      },
    };
    this.#workers.add(handle);
    return handle;
  }

  async dead(queue: string, limit: number): Promise<DeadJob[]> {
    const out: DeadJob[] = [];
    for (const [region, db] of this.#options.regions) {
      const result = await db.transaction('admin', (tx) => tx.query<{
        id: string | number; tenant_id: string | null; dead_reason: string | null;
        attempts: number;
      }>(
        `SELECT id, tenant_id, dead_reason, attempts FROM tenancy.jobs
          WHERE queue = $1 AND status = 'dead' ORDER BY id LIMIT $2`,
        [queue, limit],
      ));
      for (const row of result.rows) {
        out.push({
          id: String(row.id), queue, region,
          tenantId: isTenantId(row.tenant_id) ? row.tenant_id : null,
          reason: row.dead_reason ?? 'UNKNOWN', attempts: row.attempts,
        });
      }
    }
    return out.slice(0, limit);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#workers].map((worker) => worker.close()));
  }

  #renewWake(): void {
    let resolve = (): void => {};
    const promise = new Promise<void>((done) => { resolve = done; });
    this.#wake = { promise, resolve };
  }

  #db(region: string): Database {
    const db = this.#options.regions.get(region);
    if (db === undefined) throw new Error(`no region ${region}`);
    return db;
  }

  /** Takes the oldest ready job (or one whose worker vanished) and commits the claim at once. */
  async #claim(queue: string, region: string): Promise<QueuedJob | undefined> {
    const lease = this.#options.leaseMillis ?? 300_000;
    const result = await this.#db(region).transaction('admin', (tx) => tx.query<ClaimedRow>(
      `WITH next AS (
         SELECT id FROM tenancy.jobs
          WHERE queue = $1 AND ((status = 'queued' AND run_at <= now())
             OR (status = 'running' AND locked_until < now()))
          ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
       UPDATE tenancy.jobs j SET status = 'running', attempts = j.attempts + 1,
              locked_until = now() + make_interval(secs => $2), updated_at = now()
         FROM next WHERE j.id = next.id
       RETURNING j.id, j.tenant_id, j.payload, j.attempts`,
      [queue, lease / 1000],
    ));
    const row = result.rows[0];
    if (row === undefined) return undefined;
    const payload = typeof row.payload === 'string' ? JSON.parse(row.payload) as unknown
      : row.payload;
    return {
      id: String(row.id), queue, region, tenantId: row.tenant_id, payload,
      attempt: row.attempts,
    };
  }

  async #finish(job: QueuedJob, outcome: JobOutcome): Promise<void> {
    await this.#db(job.region).transaction('admin', async (tx) => {
      if (outcome.status === 'done') {
        await tx.query("DELETE FROM tenancy.jobs WHERE id = $1 AND status = 'running'", [job.id]);
        return;
      }
      const dead = outcome.status === 'dead' || job.attempt >= this.#options.maxAttempts;
      // Backoff doubles from a tenth of a second, capped at a minute.
      const delay = Math.min(60, 0.1 * 2 ** (job.attempt - 1));
      await tx.query(
        `UPDATE tenancy.jobs SET status = $2, dead_reason = $3, locked_until = NULL,
                run_at = now() + make_interval(secs => $4), updated_at = now()
          WHERE id = $1`,
        [job.id, dead ? 'dead' : 'queued', outcome.reason, delay],
      );
    });
  }
}
