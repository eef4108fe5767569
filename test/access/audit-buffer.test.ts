// The audit log's write path without a database: batching, routing by tenant, and a bounded
// buffer that records what it had to drop.
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/access/audit-log.ts';
import type { Database, Queryable } from '../../src/storage/driver.ts';

interface Insert { region: string; actions: string[]; tenants: (string | null)[] }

/** A Database that only remembers the audit inserts sent to it. */
function fakeDatabase(region: string, inserts: Insert[], fail = false): Database {
  const tx: Queryable = {
    async query<R extends object>(sql: string, params: readonly unknown[] = []) {
      if (fail) throw Object.assign(new Error('down'), { code: '08006' });
      if (sql.includes('INSERT INTO tenancy.audit_log')) {
        inserts.push({ region, actions: params[4] as string[],
          tenants: params[3] as (string | null)[] });
      }
      return { rows: [] as R[], rowCount: 0 };
    },
    async exec() {},
  };
  return { name: region, transaction: (_role, fn) => fn(tx), exec: async () => {} };
}

function logWith(inserts: Insert[], options: { maxBuffered?: number; failEu?: boolean } = {}) {
  const events: string[] = [];
  const audit = new AuditLog({
    regions: new Map([['eu', fakeDatabase('eu', inserts, options.failEu)],
      ['us', fakeDatabase('us', inserts)]]),
    catalogRegion: 'eu',
    runtimeRole: () => 'tenancy_runtime',
    regionOf: async (id) => (id === 'acme-us' ? 'us' : id === 'ghost' ? undefined : 'eu'),
    defaultActor: { kind: 'system' },
    log: (event) => events.push(`${event.event}:${event.code ?? ''}`),
    flushMillis: 10_000,
    maxBuffered: options.maxBuffered,
  });
  return { audit, events };
}

describe('audit write path', () => {
  it('writes queued events in one insert per region, routed by tenant', async () => {
    const inserts: Insert[] = [];
    const { audit } = logWith(inserts);
    audit.note({ action: 'a.one', outcome: 'denied', tenantId: 'acme-us' });
    audit.note({ action: 'a.two', outcome: 'denied', tenantId: 'acme-eu' });
    audit.note({ action: 'a.three', outcome: 'denied' });
    audit.note({ action: 'a.four', outcome: 'denied', tenantId: 'acme-us' });
    expect(inserts).toEqual([]);
    await audit.flush();
    expect(inserts).toEqual([
      { region: 'us', actions: ['a.one', 'a.four'], tenants: ['acme-us', 'acme-us'] },
      { region: 'eu', actions: ['a.two', 'a.three'], tenants: ['acme-eu', null] },
    ]);
  });

  it('drops past its bound and records how many it dropped', async () => {
    const inserts: Insert[] = [];
    const { audit } = logWith(inserts, { maxBuffered: 3 });
    for (let i = 0; i < 10; i++) audit.note({ action: 'flood.auth', outcome: 'denied' });
    await audit.flush();
    expect(inserts).toHaveLength(1);
    expect(inserts[0]?.actions).toEqual(['flood.auth', 'flood.auth', 'flood.auth',
      'audit.dropped']);
  });

  it('refuses a malformed action name from code, and note() never throws', async () => {
    const inserts: Insert[] = [];
    const { audit } = logWith(inserts);
    await expect(audit.record({ action: 'Bad Action', outcome: 'ok' })).rejects
      .toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(() => audit.note({ action: 'Bad Action', outcome: 'ok' })).not.toThrow();
    await audit.flush();
    expect(inserts).toEqual([]);
  });

  it('keeps an operation’s result when its record cannot be written, and says so', async () => {
    const inserts: Insert[] = [];
    const { audit, events } = logWith(inserts, { failEu: true });
    const result = await audit.audited({ action: 'tenant.suspend', tenantId: 'acme-eu' },
      async () => 'done');
    expect(result).toBe('done');
    expect(events).toEqual(['audit.write_failed:DATABASE_ERROR']);
    // A tenant the catalog does not know is recorded in the catalog's region.
    await expect(audit.record({ action: 'x.y', outcome: 'ok', tenantId: 'ghost' })).rejects
      .toMatchObject({ code: 'DATABASE_ERROR' });
  });
});
