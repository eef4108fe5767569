// The job runner's guard without a queue: whatever a queue hands over, a job whose tenant is
// missing, malformed, unknown or in the wrong region never reaches a handler.
import { describe, expect, it } from 'vitest';
import type {
  JobOutcome, JobQueueAdapter, JobRunner, QueuedJob,
} from '../../src/jobs/job-queue.ts';
import { Jobs } from '../../src/jobs/jobs.ts';
import { TenancyError } from '../../src/index.ts';

/** An adapter that stores nothing: it hands the runner to the test. */
function capture(): { adapter: JobQueueAdapter; runner: () => JobRunner; enqueued: unknown[] } {
  let runner: JobRunner | undefined;
  const enqueued: unknown[] = [];
  const adapter: JobQueueAdapter = {
    kind: 'postgres',
    prepare: async () => {},
    enqueue: async (job) => {
      enqueued.push(job);
      return String(enqueued.length);
    },
    work: (_queue, _concurrency, run) => {
      runner = run;
      return { close: async () => {} };
    },
    dead: async () => [],
    close: async () => {},
  };
  return { adapter, enqueued, runner: () => runner as JobRunner };
}

const regions: Record<string, string> = { 'acme-eu': 'eu', 'acme-us': 'us' };

function setup() {
  const { adapter, runner, enqueued } = capture();
  const ran: string[] = [];
  const jobs = new Jobs<{ tenantId: string }>({
    adapter,
    regionOf: async (id) => regions[id],
    runAsTenant: async (id, fn) => {
      ran.push(id);
      await fn({ tenantId: id });
    },
    log: () => {},
  });
  return { jobs, runner, ran, enqueued };
}

const job = (tenantId: unknown, region = 'eu'): QueuedJob =>
  ({ id: '1', queue: 'mail', region, tenantId, payload: { n: 1 }, attempt: 1 });

describe('job guard', () => {
  it('refuses to enqueue a job without a valid, live tenant, storing nothing', async () => {
    const { jobs, enqueued } = setup();
    const cases: [unknown, string][] = [
      [undefined, 'JOB_TENANT_REQUIRED'], [null, 'JOB_TENANT_REQUIRED'], ['', 'JOB_TENANT_REQUIRED'],
      ['Acme', 'TENANT_ID_INVALID'], ['../etc', 'TENANT_ID_INVALID'], [42, 'TENANT_ID_INVALID'],
      ['ghost-co', 'TENANT_NOT_FOUND'],
    ];
    for (const [tenant, code] of cases) {
      await expect(jobs.enqueue(tenant as string, 'mail', {})).rejects.toMatchObject({ code });
    }
    await expect(jobs.enqueue('acme-eu', 'Bad Name', {})).rejects
      .toMatchObject({ code: 'JOB_INVALID' });
    await expect(jobs.enqueue('acme-eu', 'mail', { n: 1n })).rejects
      .toMatchObject({ code: 'JOB_INVALID' });
    await expect(jobs.enqueue('acme-eu', 'mail', 'x'.repeat(1024 * 1024 + 1))).rejects
      .toMatchObject({ code: 'JOB_INVALID' });
    expect(enqueued).toEqual([]);
    expect(await jobs.enqueue('acme-us', 'mail', { to: 'someone' })).toBe('1');
    expect(enqueued).toEqual([{ queue: 'mail', region: 'us', tenantId: 'acme-us',
      payload: { to: 'someone' } }]);
  });

  it('dead-letters a planted job without a usable tenant and never runs it', async () => {
    const { jobs, runner, ran } = setup();
    let handled = 0;
    jobs.work('mail', async () => { handled += 1; });
    const cases: [unknown, string, string][] = [
      [undefined, 'eu', 'JOB_TENANT_REQUIRED'], [null, 'eu', 'JOB_TENANT_REQUIRED'],
      ['', 'eu', 'JOB_TENANT_REQUIRED'], [{ id: 'acme-eu' }, 'eu', 'TENANT_ID_INVALID'],
      ["acme-eu'; --", 'eu', 'TENANT_ID_INVALID'], ['ghost-co', 'eu', 'TENANT_NOT_FOUND'],
      ['acme-us', 'eu', 'TENANT_REGION_MISMATCH'],
    ];
    const outcomes: JobOutcome[] = [];
    for (const [tenant, region] of cases) outcomes.push(await runner()(job(tenant, region)));
    expect(outcomes).toEqual(cases.map(([, , reason]) => ({ status: 'dead', reason })));
    expect(ran).toEqual([]);
    expect(handled).toBe(0);
    expect(await runner()(job('acme-eu'))).toEqual({ status: 'done' });
    expect(ran).toEqual(['acme-eu']);
  });

  it('retries a failing handler with a stable code and never its message', async () => {
    const { jobs, runner } = setup();
    const failures = [new Error('customer secret in a message'),
      new TenancyError('TENANT_SUSPENDED'), new TenancyError('TENANT_NOT_FOUND')];
    let i = 0;
    jobs.work('mail', async () => { throw failures[i++]; });
    expect(await runner()(job('acme-eu'))).toEqual({ status: 'retry', reason: 'JOB_FAILED' });
    expect(await runner()(job('acme-eu'))).toEqual({ status: 'retry',
      reason: 'TENANT_SUSPENDED' });
    // A tenant deleted after its job was queued: no retry can help.
    expect(await runner()(job('acme-eu'))).toEqual({ status: 'dead', reason: 'TENANT_NOT_FOUND' });
  });
});
