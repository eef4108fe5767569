// The audit log: who did what to which tenant, kept append-only in the tenant's own region.
import { TenancyError, isTenancyError } from '../errors.ts';
import type { LogHook } from '../log.ts';
import { toTenancyError } from '../storage/database-error.ts';
import type { Database } from '../storage/driver.ts';
import { parseTenantId, type TenantId } from '../tenant-id.ts';
import {
  AuditStore, actorKinds, type ActorKind, type AuditActor, type AuditOutcome,
  type AuditRow,
} from './audit-store.ts';

export type { ActorKind, AuditActor, AuditOutcome } from './audit-store.ts';
export { actorKinds, auditOutcomes } from './audit-store.ts';

/** What a front door knows about the caller of an operation. */
export interface AuditContext {
  actor?: AuditActor | undefined;
  requestId?: string | undefined;
}

/** One thing to record. Identifiers and stable codes only: never content, never a secret. */
export interface AuditEvent extends AuditContext {
  /** Dotted lowercase name: `tenant.create`, `auth.failed`, `residency.refused`. */
  action: string;
  outcome: AuditOutcome;
  /** The tenant the event is about; its region keeps the record. */
  tenantId?: string | null | undefined;
  /** What was acted on, as an identifier: `tenant:acme`, `key:0123…`, `GET /v1/documents`. */
  resource?: string | null | undefined;
  /** A stable error code when the outcome is not `ok`. */
  code?: string | null | undefined;
  /** A short fixed phrase from the caller's code, never text taken from a request. */
  detail?: string | null | undefined;
}

export interface AuditRecord extends AuditRow {
  /** `<region>:<id>`, unique across the deployment. */
  id: string;
  region: string;
}

export interface AuditFilter {
  tenantId?: string | undefined;
  action?: string | undefined;
  outcome?: AuditOutcome | undefined;
  /** `admin`, `cli`, `api-key`, … or `api-key:<key id>`. */
  actor?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  limit?: number | undefined;
  /** The `next` of the previous page. */
  cursor?: string | undefined;
}

export interface AuditPage {
  items: AuditRecord[];
  next: string | null;
}

export interface AuditLogOptions {
  /** Each region's shared database. */
  regions: ReadonlyMap<string, Database>;
  catalogRegion: string;
  runtimeRole: (region: string) => string;
  /** The region a tenant lives in; undefined for a tenant the catalog does not know. */
  regionOf: (tenant: TenantId) => Promise<string | undefined>;
  /** Who acts when an operation names no actor (the library, the CLI). */
  defaultActor: AuditActor;
  log: LogHook;
  /** Buffered events wait at most this long before they are written. */
  flushMillis?: number;
  /** Events `note` holds at most; past it they are counted and dropped (default 10,000). */
  maxBuffered?: number;
}

const actionShape = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/;
const idShape = /^[A-Za-z0-9_.@-]{1,64}$/;
const codeShape = /^[A-Z][A-Z0-9_]{0,63}$/;
const maxText = 200;
const maxBatch = 500;

/** Printable ASCII only, bounded: what a record may hold as text. */
function plain(value: string | null | undefined): string | null {
  if (value === null || value === undefined || value === '') return null;
  const cleaned = value.replace(/[^\x20-\x7e]/g, '?');
  return cleaned.length > maxText ? `${cleaned.slice(0, maxText - 1)}~` : cleaned;
}

/** A tenant id as stored: only a valid one, so a hostile name never reaches the table. */
export function auditTenant(value: string | null | undefined): TenantId | null {
  if (value === null || value === undefined) return null;
  try {
    return parseTenantId(value);
  } catch {
    return null;
  }
}

/** `tenant:<id>` for a valid id; a hostile or malformed one is never written out. */
export function tenantResource(id: unknown): string {
  const tenant = typeof id === 'string' ? auditTenant(id) : null;
  return tenant === null ? 'tenant:(invalid)' : `tenant:${tenant}`;
}

/** `key:<key id>` for a well-formed API key id. */
export function keyResource(keyId: unknown): string {
  return typeof keyId === 'string' && /^[a-z0-9]{16}$/.test(keyId) ? `key:${keyId}`
    : 'key:(invalid)';
}

function toRow(event: AuditEvent, defaultActor: AuditActor, at: Date): AuditRow {
  if (!actionShape.test(event.action) || event.action.length > 64) {
    throw new TenancyError('VALIDATION_FAILED', { params: { detail: 'audit action name' } });
  }
  const actor = event.actor ?? defaultActor;
  const actorId = actor.id !== undefined && idShape.test(actor.id) ? actor.id : undefined;
  return {
    at,
    actor: { kind: actorKinds.includes(actor.kind) ? actor.kind : 'anonymous', id: actorId },
    tenantId: auditTenant(event.tenantId),
    action: event.action,
    resource: plain(event.resource),
    outcome: event.outcome,
    code: event.code !== null && event.code !== undefined && codeShape.test(event.code)
      ? event.code : null,
    detail: plain(event.detail),
    requestId: event.requestId !== undefined && idShape.test(event.requestId)
      ? event.requestId : null,
  };
}

type Cursor = Record<string, string>;

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(text: string, regions: ReadonlySet<string>): Cursor {
  const invalid = new TenancyError('VALIDATION_FAILED', { params: { detail: 'cursor' } });
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid;
  const cursor: Cursor = {};
  for (const [region, id] of Object.entries(value)) {
    if (!regions.has(region) || typeof id !== 'string' || !/^\d{1,19}$/.test(id)) throw invalid;
    cursor[region] = id;
  }
  return cursor;
}

function parseActor(actor: string | undefined): { kind?: ActorKind; id?: string } {
  if (actor === undefined) return {};
  const [kind, ...rest] = actor.split(':');
  if (!actorKinds.includes(kind as ActorKind)) {
    throw new TenancyError('VALIDATION_FAILED', { params: { detail: 'actor' } });
  }
  return rest.length === 0 ? { kind: kind as ActorKind } : { kind: kind as ActorKind,
    id: rest.join(':') };
}

/**
 * Records go to the region of the tenant they are about (the catalog's region when there is
 * none). `record` writes before it returns; `note` queues the event and writes it with others a
 * moment later, so a request that fails authentication pays no database round trip.
 */
export class AuditLog {
  readonly #stores: Map<string, AuditStore>;
  readonly #options: AuditLogOptions;
  #buffer: AuditRow[] = [];
  #dropped = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(options: AuditLogOptions) {
    this.#options = options;
    this.#stores = new Map([...options.regions].map(([name, db]) => [name,
      new AuditStore(name, db)]));
  }

  async prepare(): Promise<void> {
    for (const [region, store] of this.#stores) {
      await store.prepare(this.#options.runtimeRole(region));
    }
  }

  /** Writes one event now. Throws when it cannot be written. */
  async record(event: AuditEvent): Promise<void> {
    const row = toRow(event, this.#options.defaultActor, new Date());
    await this.#write([row]);
  }

  /** Queues one event for the next flush; never throws and never waits. */
  note(event: AuditEvent): void {
    let row: AuditRow;
    try {
      row = toRow(event, this.#options.defaultActor, new Date());
    } catch {
      return;
    }
    if (this.#buffer.length >= (this.#options.maxBuffered ?? 10_000)) {
      // A flood (of failed logins, say) must not grow memory without bound; what was dropped
      // is itself recorded once the buffer drains.
      this.#dropped += 1;
      return;
    }
    this.#buffer.push(row);
    if (this.#buffer.length >= maxBatch) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#options.flushMillis ?? 50);
    this.#timer?.unref?.();
  }

  /** Writes everything queued so far. */
  flush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const rows = this.#buffer;
    this.#buffer = [];
    if (this.#dropped > 0) {
      rows.push(toRow({ action: 'audit.dropped', outcome: 'failed', actor: { kind: 'system' },
        detail: `${this.#dropped} events dropped while the buffer was full` },
      this.#options.defaultActor, new Date()));
      this.#dropped = 0;
    }
    const previous = this.#flushing;
    this.#flushing = previous.then(async () => {
      for (let i = 0; i < rows.length; i += maxBatch) {
        try {
          await this.#write(rows.slice(i, i + maxBatch));
        } catch (err) {
          this.#options.log({ level: 'error', event: 'audit.write_failed',
            count: Math.min(maxBatch, rows.length - i),
            code: isTenancyError(err) ? err.code : 'DATABASE_ERROR' });
        }
      }
    });
    return this.#flushing;
  }

  /** Runs an operation and records how it ended; the operation's result or error passes on. */
  async audited<T>(
    event: Omit<AuditEvent, 'outcome'>,
    work: () => Promise<T>,
    /** More fields for a success; null leaves a success unrecorded. */
    after?: (result: T) => Partial<AuditEvent> | null,
  ): Promise<T> {
    let result: T;
    try {
      result = await work();
    } catch (err) {
      const code = isTenancyError(err) ? err.code : 'INTERNAL';
      await this.#recordQuietly({ ...event, outcome: 'failed', code });
      throw err;
    }
    const more = after === undefined ? {} : after(result);
    if (more !== null) await this.#recordQuietly({ ...event, outcome: 'ok', ...more });
    return result;
  }

  /** Newest first, across every region, in pages. */
  async list(filter: AuditFilter = {}): Promise<AuditPage> {
    await this.flush();
    const limit = Math.max(1, Math.min(filter.limit ?? 100, 1000));
    const regions = new Set(this.#stores.keys());
    const cursor = filter.cursor === undefined ? {} : decodeCursor(filter.cursor, regions);
    const { kind, id } = parseActor(filter.actor);
    const tenantId = filter.tenantId === undefined ? undefined : parseTenantId(filter.tenantId);
    const fetched = new Map<string, AuditRecord[]>();
    for (const [region, store] of this.#stores) {
      if (cursor[region] === '0') continue; // that region has nothing further
      const rows = await store.query({
        tenantId, action: filter.action, outcome: filter.outcome, actorKind: kind, actorId: id,
        since: filter.since, until: filter.until, beforeId: cursor[region], limit: limit + 1,
      }).catch((err: unknown) => {
        throw toTenancyError(err);
      });
      fetched.set(region, rows.map((row) => ({ ...row, id: `${region}:${row.id}`, region })));
    }
    // A merge of heads, not a sort: what is taken from a region is always a prefix of its rows
    // in id order, so its cursor never skips a row whose time is out of step with its id.
    const items: AuditRecord[] = [];
    const heads = new Map([...fetched].map(([region]) => [region, 0]));
    while (items.length < limit) {
      let best: AuditRecord | undefined;
      for (const [region, i] of heads) {
        const row = fetched.get(region)?.[i];
        if (row !== undefined && (best === undefined || row.at > best.at)) best = row;
      }
      if (best === undefined) break;
      items.push(best);
      heads.set(best.region, (heads.get(best.region) ?? 0) + 1);
    }
    const next: Cursor = { ...cursor };
    let more = false;
    for (const [region, rows] of fetched) {
      const taken = items.filter((item) => item.region === region);
      const last = taken.at(-1);
      if (last !== undefined) next[region] = last.id.split(':')[1] as string;
      if (taken.length < rows.length) more = true;
      else if (rows.length <= limit) next[region] = '0';
    }
    return { items, next: more ? encodeCursor(next) : null };
  }

  async close(): Promise<void> {
    await this.flush();
  }

  async #recordQuietly(event: AuditEvent): Promise<void> {
    try {
      await this.record(event);
    } catch (err) {
      // The operation itself has happened; failing it now would misreport what the data holds.
      this.#options.log({ level: 'error', event: 'audit.write_failed', count: 1,
        code: isTenancyError(err) ? err.code : 'DATABASE_ERROR' });
    }
  }

  async #write(rows: readonly AuditRow[]): Promise<void> {
    const byRegion = new Map<string, AuditRow[]>();
    const regions = new Map<string | null, string>();
    for (const row of rows) {
      let region = regions.get(row.tenantId);
      if (region === undefined) {
        region = await this.#regionFor(row.tenantId as TenantId | null);
        regions.set(row.tenantId, region);
      }
      const group = byRegion.get(region);
      if (group === undefined) byRegion.set(region, [row]);
      else group.push(row);
    }
    for (const [region, group] of byRegion) {
      try {
        await (this.#stores.get(region) as AuditStore).append(group);
      } catch (err) {
        throw toTenancyError(err);
      }
    }
  }

  async #regionFor(tenant: TenantId | null): Promise<string> {
    if (tenant === null) return this.#options.catalogRegion;
    const region = await this.#options.regionOf(tenant).catch(() => undefined);
    return region !== undefined && this.#stores.has(region) ? region : this.#options.catalogRegion;
  }
}
