// The audit log per driver: append-only even for its owner, out of the runtime role's reach,
// admin actions recorded with their outcome, records kept in the tenant's region, paged reads.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/access/audit-log.ts';
import { Tenancy, type ConfigInput } from '../../src/index.ts';
import { drivers, freshDeployment, serverUrl, type TestDeployment } from '../support/drivers.ts';
import {
  expectCode, runtimeClient, runtimeRole, skipDriver, sqlStateOf, useDeployment,
} from '../core/harness.ts';

/** Every audit record the filter matches, following the cursor to the end. */
async function everything(tenancy: Tenancy, filter: Parameters<Tenancy['audit']['list']>[0] = {}):
  Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await tenancy.audit.list({ ...filter, limit: 50, cursor });
    out.push(...page.items);
    cursor = page.next ?? undefined;
  } while (cursor !== undefined);
  return out;
}

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`audit log on ${kind}`, () => {
    const d = useDeployment(kind);

    it('records every admin action of the library with its outcome', async () => {
      const id = `aud-${randomBytes(3).toString('hex')}`;
      const { apiKey } = await d.tenancy.tenants.create({ id, isolation: 'row' });
      await expectCode(d.tenancy.tenants.create({ id, isolation: 'row' }), 'TENANT_EXISTS');
      await d.tenancy.tenants.suspend(id);
      await d.tenancy.tenants.resume(id);
      const second = await d.tenancy.apiKeys.issue(id);
      expect(await d.tenancy.apiKeys.revoke(id, second.keyId)).toBe(true);
      expect(await d.tenancy.apiKeys.revoke(id, second.keyId)).toBe(false);
      await d.tenancy.migrate({ actor: { kind: 'cli', id: 'ops' }, requestId: 'run-1' });
      await d.tenancy.tenants.delete(id, { actor: { kind: 'admin' }, requestId: 'req-42' });

      const mine = (await everything(d.tenancy, { tenantId: id })).reverse();
      expect(mine.map((r) => [r.action, r.outcome, r.code])).toEqual([
        ['tenant.create', 'ok', null],
        ['tenant.create', 'failed', 'TENANT_EXISTS'],
        ['tenant.suspend', 'ok', null],
        ['tenant.resume', 'ok', null],
        ['key.issue', 'ok', null],
        ['key.revoke', 'ok', null],
        ['key.revoke', 'failed', 'NOT_FOUND'],
        ['tenant.delete', 'ok', null],
      ]);
      expect(mine[0]).toMatchObject({
        actor: { kind: 'system' }, region: 'local', resource: `tenant:${id}`,
        detail: `row isolation in region local; key ${apiKey.keyId}`,
      });
      expect(mine[4]?.resource).toBe(`key:${second.keyId}`);
      expect(mine.at(-1)).toMatchObject({ actor: { kind: 'admin' }, requestId: 'req-42' });
      const [migrate] = await everything(d.tenancy, { action: 'migrate', actor: 'cli:ops' });
      expect(migrate).toMatchObject({ outcome: 'ok', tenantId: null, requestId: 'run-1' });
    });

    it('keeps no secret, no content and no hostile text', async () => {
      const id = `sec-${randomBytes(3).toString('hex')}`;
      const { apiKey } = await d.tenancy.tenants.create({ id, isolation: 'row' });
      const issued = await d.tenancy.apiKeys.issue(id);
      await d.tenancy.withTenant(id, (t) => t.conversations.create({ title: 'private words',
        messages: [{ role: 'user', content: 'the content nobody may log' }] }));
      await expectCode(d.tenancy.tenants.suspend("x'; DROP TABLE tenancy.audit_log; --"),
        'TENANT_ID_INVALID');
      await d.tenancy.audit.record({ action: 'test.hostile', outcome: 'denied',
        tenantId: 'Robert"); --', resource: 'a\u0000b\nc', requestId: 'bad id with spaces',
        actor: { kind: 'api-key', id: 'x'.repeat(500) } });
      const rows = await everything(d.tenancy);
      const text = JSON.stringify(rows);
      for (const secret of [apiKey.secret, issued.secret]) {
        expect(text).not.toContain(secret.slice(secret.indexOf('_', 4) + 1));
      }
      expect(text).not.toContain('private words');
      expect(text).not.toContain('nobody may log');
      expect(text).not.toContain('DROP TABLE');
      const hostile = rows.find((r) => r.action === 'test.hostile');
      expect(hostile).toMatchObject({ tenantId: null, resource: 'a?b?c', requestId: null,
        actor: { kind: 'api-key' } });
      expect(hostile?.actor.id).toBeUndefined();
      const refused = rows.find((r) => r.action === 'tenant.suspend' && r.outcome === 'failed');
      expect(refused).toMatchObject({ tenantId: null, resource: 'tenant:(invalid)',
        code: 'TENANT_ID_INVALID' });
    });

    it('filters by tenant, action family, outcome, actor and time, and pages without gaps',
      async () => {
        const tag = randomBytes(3).toString('hex');
        const tenant = `flt-${tag}`;
        await d.tenancy.tenants.create({ id: tenant, isolation: 'row' });
        // Records carry millisecond times: `before` must fall strictly between the create's
        // record and the probes', or a fast machine puts them in one millisecond.
        const tick = () => new Promise((wake) => setTimeout(wake, 3));
        await tick();
        const before = new Date();
        await tick();
        for (let i = 0; i < 23; i++) {
          await d.tenancy.audit.record({
            action: `probe.${i % 2 === 0 ? 'even' : 'odd'}`, outcome: i % 3 === 0 ? 'denied' : 'ok',
            tenantId: tenant, actor: { kind: 'api-key', id: `key${tag}${i % 2}` },
            resource: `item:${i}`,
          });
        }
        const all = await everything(d.tenancy, { tenantId: tenant, action: 'probe.*' });
        expect(all).toHaveLength(23);
        expect(new Set(all.map((r) => r.id)).size).toBe(23);
        expect(all.map((r) => r.resource)).toEqual(
          Array.from({ length: 23 }, (_, i) => `item:${22 - i}`));
        const pages: number[] = [];
        let cursor: string | undefined;
        do {
          const page = await d.tenancy.audit.list({ tenantId: tenant, action: 'probe.*', limit: 10,
            cursor });
          pages.push(page.items.length);
          cursor = page.next ?? undefined;
        } while (cursor !== undefined);
        expect(pages).toEqual([10, 10, 3]);
        expect(await everything(d.tenancy, { tenantId: tenant, action: 'probe.even' }))
          .toHaveLength(12);
        expect(await everything(d.tenancy, { tenantId: tenant, action: 'probe.*',
          outcome: 'denied' })).toHaveLength(8);
        expect(await everything(d.tenancy, { actor: `api-key:key${tag}1` })).toHaveLength(11);
        expect(await everything(d.tenancy, { tenantId: tenant, since: before }))
          .toHaveLength(23);
        expect(await everything(d.tenancy, { tenantId: tenant, action: 'probe.*',
          until: before })).toHaveLength(0);
        await expectCode(d.tenancy.audit.list({ cursor: 'not-a-cursor' }), 'VALIDATION_FAILED');
        await expectCode(d.tenancy.audit.list({ actor: 'robot' }), 'VALIDATION_FAILED');
      });

    it('refuses update, delete and truncate even to the table owner', async () => {
      await d.tenancy.audit.record({ action: 'test.keep', outcome: 'ok' });
      await d.admin(async (query) => {
        const states = [];
        for (const sql of ["UPDATE tenancy.audit_log SET outcome = 'ok'",
          'DELETE FROM tenancy.audit_log', 'TRUNCATE tenancy.audit_log']) {
          states.push(await sqlStateOf(query(sql)));
        }
        expect(states).toEqual(['TN002', 'TN002', 'TN002']);
        const [row] = await query<{ n: number }>(
          "SELECT count(*)::int AS n FROM tenancy.audit_log WHERE action = 'test.keep'");
        expect(row?.n).toBe(1);
      });
    });

    it('gives the runtime role no privilege on it', async () => {
      const attempts = [
        'SELECT count(*) FROM tenancy.audit_log',
        "INSERT INTO tenancy.audit_log (at, actor_kind, action, outcome) VALUES (now(), 'system', " +
          "'forged', 'ok')",
        "UPDATE tenancy.audit_log SET action = 'forged'",
        'DELETE FROM tenancy.audit_log',
      ];
      const states: (string | undefined)[] = [];
      if (kind === 'pg') {
        const database = new URL(d.deployment.databaseUrl as string).pathname.slice(1);
        const client = await runtimeClient(database);
        try {
          for (const sql of attempts) states.push(await sqlStateOf(client.query(sql)));
        } finally {
          await client.end();
        }
      } else {
        await d.admin(async (query) => {
          for (const sql of attempts) {
            await query('BEGIN');
            await query(`SET LOCAL ROLE ${runtimeRole}`);
            states.push(await sqlStateOf(query(sql)));
            await query('ROLLBACK');
          }
        });
      }
      expect(states).toEqual(['42501', '42501', '42501', '42501']);
    });

    it('writes queued events on flush and on close', async () => {
      const tag = randomBytes(3).toString('hex');
      for (let i = 0; i < 5; i++) {
        d.tenancy.audit.note({ action: `queued.${tag}`, outcome: 'denied' });
      }
      await d.tenancy.audit.flush();
      expect(await everything(d.tenancy, { action: `queued.${tag}` })).toHaveLength(5);
      d.tenancy.audit.note({ action: `closing.${tag}`, outcome: 'denied' });
      await d.reopen();
      expect(await everything(d.tenancy, { action: `closing.${tag}` })).toHaveLength(1);
    });
  });
}

/** Two regions, `eu` (holding the catalog) and `us`, on one driver. */
async function twoRegions(kind: 'pglite' | 'pg'): Promise<{ deployment: TestDeployment;
  config: ConfigInput }> {
  const deployment = await freshDeployment(kind);
  if (kind === 'pglite') {
    return { deployment, config: { ...deployment.config, catalogRegion: 'eu',
      regions: { eu: { database: 'embedded' }, us: { database: 'embedded' } } } };
  }
  // Named with the run's prefix, so the deployment's cleanup drops it too.
  const usDatabase = `${deployment.prefix}us`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${usDatabase}"`);
  await admin.end();
  const usUrl = new URL(serverUrl);
  usUrl.pathname = `/${usDatabase}`;
  return { deployment, config: { ...deployment.config, catalogRegion: 'eu', regions: {
    eu: { database: deployment.databaseUrl as string, tenantDatabasePrefix: deployment.prefix },
    us: { database: usUrl.toString(), tenantDatabasePrefix: `${deployment.prefix}u_` },
  } } };
}

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`audit records by region on ${kind}`, () => {
    let tenancy: Tenancy;
    let deployment: TestDeployment;

    beforeAll(async () => {
      const made = await twoRegions(kind);
      deployment = made.deployment;
      tenancy = await Tenancy.open(made.config);
    });
    afterAll(async () => {
      await tenancy?.close();
      await deployment?.cleanup();
    });

    it("keeps a tenant's records in its region and the rest in the catalog's", async () => {
      await tenancy.tenants.create({ id: 'in-us', isolation: 'schema', region: 'us' });
      await tenancy.tenants.create({ id: 'in-eu', isolation: 'row', region: 'eu' });
      await tenancy.audit.record({ action: 'test.nobody', outcome: 'ok' });
      tenancy.audit.note({ action: 'test.queued', outcome: 'denied', tenantId: 'in-us' });
      const all = await everything(tenancy);
      const where = (action: string, tenantId: string | null): string[] => all
        .filter((r) => r.action === action && r.tenantId === tenantId).map((r) => r.region);
      expect(where('tenant.create', 'in-us')).toEqual(['us']);
      expect(where('tenant.create', 'in-eu')).toEqual(['eu']);
      expect(where('test.nobody', null)).toEqual(['eu']);
      expect(where('test.queued', 'in-us')).toEqual(['us']);
      // Paging across both regions in small pages still yields every record exactly once.
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await tenancy.audit.list({ limit: 1, cursor });
        ids.push(...page.items.map((r) => r.id));
        cursor = page.next ?? undefined;
      } while (cursor !== undefined);
      expect(ids.sort()).toEqual(all.map((r) => r.id).sort());
    });
  });
}
