// Long admin work (a backup, a restore, a move) run after the answer: a client that sends
// `Prefer: respond-async` gets 202 and polls `GET /admin/operations/:operationId` for progress
// and the outcome. Operations live in this server process only.
import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { TenancyError } from '../errors.ts';
import { toPublicError } from './error-reply.ts';

export type OperationStatus = 'running' | 'done' | 'failed';

/** Where the operation is: its phase, and for backups and restores rows done of all rows. */
export interface OperationProgress {
  phase: string;
  rows?: number;
  total?: number;
}

/** What `GET /admin/operations/:operationId` answers. */
export interface OperationView {
  id: string;
  kind: string;
  tenantId: string;
  status: OperationStatus;
  startedAt: Date;
  finishedAt: Date | null;
  progress: OperationProgress | null;
  /** The operation's report once done (the same body the synchronous route answers). */
  result: object | null;
  /** The error's stable code and message once failed; never a stack. */
  error: { code: string; message: string } | null;
}

export type OperationWork =
  (report: (progress: OperationProgress) => void, signal: AbortSignal) => Promise<object>;

/** Finished operations are kept this long for polling, and at most this many. */
const keepMillis = 60 * 60 * 1000;
const keepFinished = 500;

/** True when the client asked to be answered before the work is done (RFC 7240). */
export function wantsAsync(request: FastifyRequest): boolean {
  const prefer = request.headers.prefer;
  const values = Array.isArray(prefer) ? prefer : [prefer ?? ''];
  return values.some((v) => v.split(',').some((p) => p.trim().toLowerCase() === 'respond-async'));
}

export class Operations {
  readonly #items = new Map<string, { view: OperationView; stop: AbortController }>();
  readonly #log: FastifyBaseLogger;

  constructor(log: FastifyBaseLogger) {
    this.#log = log;
  }

  /** Starts `work` and answers 202 with where to follow it. */
  accept(reply: FastifyReply, kind: string, tenantId: string, work: OperationWork):
    FastifyReply {
    const view = this.start(kind, tenantId, work);
    return reply.code(202).header('location', `/admin/operations/${view.id}`)
      .header('preference-applied', 'respond-async').send(view);
  }

  start(kind: string, tenantId: string, work: OperationWork): OperationView {
    this.#prune();
    const view: OperationView = {
      id: `op-${randomBytes(12).toString('hex')}`, kind, tenantId, status: 'running',
      startedAt: new Date(), finishedAt: null, progress: null, result: null, error: null,
    };
    const stop = new AbortController();
    this.#items.set(view.id, { view, stop });
    void work((progress) => { view.progress = { ...progress }; }, stop.signal).then(
      (result) => {
        view.result = result;
        view.status = 'done';
      },
      (err: unknown) => {
        const error = stop.signal.aborted ? new TenancyError('OPERATION_CANCELLED')
          : toPublicError(err);
        view.error = { code: error.code, message: error.message };
        view.status = 'failed';
        if (error.status >= 500) {
          this.#log.error({ err, code: error.code, operation: view.id, kind },
            'background operation failed');
        }
      },
    ).finally(() => { view.finishedAt = new Date(); });
    return view;
  }

  /** The operation, or NOT_FOUND (an unknown id and one forgotten look the same). */
  get(id: string): OperationView {
    const item = this.#items.get(id);
    if (item === undefined) throw new TenancyError('NOT_FOUND');
    return item.view;
  }

  /** Stops every running operation that can stop (the server is closing); each fails as
   * OPERATION_CANCELLED. */
  close(): void {
    for (const { view, stop } of this.#items.values()) {
      if (view.status === 'running') stop.abort();
    }
  }

  #prune(): void {
    const finished = [...this.#items.values()].filter((i) => i.view.finishedAt !== null);
    const cutoff = Date.now() - keepMillis;
    finished.forEach((item, n) => {
      const old = (item.view.finishedAt as Date).getTime() < cutoff;
      if (old || finished.length - n > keepFinished) this.#items.delete(item.view.id);
    });
  }
}
