// Isolation moves end to end through the front doors: `tenancy tenants move <t> --isolation`
// run as the real bin against a deployment a server process keeps serving, and
// `POST /admin/tenants/:id/move`. Afterwards every row is there, byte for byte, the tenant's
// API key still works through HTTP, and a bad isolation name answers a stable code.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Isolation } from '../../src/config/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { Tenancy } from '../../src/index.ts';
import { expectFailure, runCli, runJson } from '../cli/cli.ts';
import { admin, adminToken, bearer, expectError } from '../http/harness.ts';
import { skipDriver } from '../core/harness.ts';
import { picture, seedTenant } from '../backup/support.ts';
import { freshDeployment, tenantName, type TestDeployment } from '../support/drivers.ts';
import { layoutsOf } from './isolation-layouts.ts';

describe.skipIf(skipDriver('pg'))('isolation moves through the CLI and the admin API (pg)', () => {
  let deployment: TestDeployment;
  let tenancy: Tenancy;
  let app: FastifyInstance;
  let configFile: string;

  beforeAll(async () => {
    deployment = await freshDeployment('pg');
    configFile = join(deployment.dataDir, 'config.json');
    await writeFile(configFile, JSON.stringify(deployment.config));
    tenancy = await Tenancy.open(deployment.config);
    app = buildApp(tenancy, { logger: false, adminToken });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await tenancy?.close();
    await deployment?.cleanup();
  });

  /** A tenant with rows, in `isolation`; its API key secret. */
  async function seeded(label: string, isolation: Isolation): Promise<{ id: string;
    secret: string }> {
    const id = tenantName(label);
    const { apiKey } = await tenancy.tenants.create({ id, isolation });
    await seedTenant(tenancy, id, 5);
    return { id, secret: apiKey.secret };
  }

  /** What the tenant's key reads over HTTP: its conversations with their messages. */
  async function overHttp(secret: string): Promise<unknown[]> {
    const list = await app.inject({ method: 'GET', url: '/v1/conversations?limit=100',
      headers: bearer(secret) });
    expect(list.statusCode, list.body).toBe(200);
    const items = list.json<{ items: { id: string }[] }>().items;
    const full: unknown[] = [];
    for (const { id } of items) {
      const one = await app.inject({ method: 'GET', url: `/v1/conversations/${id}`,
        headers: bearer(secret) });
      expect(one.statusCode, one.body).toBe(200);
      full.push(one.json());
    }
    return full;
  }

  it('moves a tenant to row isolation with the CLI while a server serves it', async () => {
    const { id, secret } = await seeded('cli-iso', 'schema');
    const before = await picture(tenancy, id);
    const readBefore = await overHttp(secret);
    expect(readBefore).toHaveLength(5);

    const moved = await runJson<{ tenantId: string; from: string; to: string; moved: boolean;
      tables: { table: string; rows: number }[] }>(['tenants', 'move', id, '--isolation', 'row',
      '--config', configFile]);
    expect(moved).toMatchObject({ tenantId: id, from: 'schema', to: 'row', moved: true });
    expect(moved.tables.find((t) => t.table === 'messages')?.rows).toBe(10);

    // The server process learns of the move from the catalog, not from being told.
    expect(await tenancy.tenants.get(id)).toMatchObject({ isolation: 'row', status: 'active' });
    expect(await overHttp(secret)).toEqual(readBefore);
    expect(await picture(tenancy, id)).toEqual(before);
    expect(await layoutsOf(tenancy, id)).toEqual(['row']);
    const wrote = await app.inject({ method: 'POST', url: '/v1/conversations',
      headers: bearer(secret), payload: { id: 'after-cli', title: 'after' } });
    expect(wrote.statusCode, wrote.body).toBe(201);
    expect((await tenancy.residency.report(id)).ok).toBe(true);

    // Without --json the steps and the outcome are printed for a person.
    const text = await runCli(['tenants', 'move', id, '--isolation', 'database', '--config',
      configFile]);
    expect({ code: text.code, stdout: text.stdout }).toEqual({ code: 0, stdout:
      `moved tenant ${id} from row isolation to database isolation (21 rows verified)\n` });
    expect(text.stderr).toContain('move: switched');
    expect(await layoutsOf(tenancy, id)).toEqual(['database']);
  });

  it('refuses a bad isolation name on the CLI with USAGE and leaves the tenant as it was',
    async () => {
      const { id } = await seeded('cli-bad', 'row');
      const before = await picture(tenancy, id);
      const bad = await runCli(['tenants', 'move', id, '--isolation', 'rows', '--config',
        configFile]);
      expect(expectFailure(bad, 'USAGE', 2)).toContain('--isolation takes database, schema or row');
      const both = await runCli(['tenants', 'move', id, '--isolation', 'row', '--region', 'local',
        '--config', configFile]);
      expectFailure(both, 'USAGE', 2);
      const missing = await runCli(['tenants', 'move', 'no-such-tenant', '--isolation', 'row',
        '--config', configFile]);
      expectFailure(missing, 'TENANT_NOT_FOUND');
      expect(await tenancy.tenants.get(id)).toMatchObject({ isolation: 'row', status: 'active' });
      expect(await picture(tenancy, id)).toEqual(before);
    });

  it('moves a tenant to row isolation over the admin API; its key keeps working', async () => {
    const { id, secret } = await seeded('http-iso', 'database');
    const before = await picture(tenancy, id);
    const readBefore = await overHttp(secret);

    const denied = await app.inject({ method: 'POST', url: `/admin/tenants/${id}/move`,
      headers: bearer(secret), payload: { isolation: 'row' } });
    expect(denied.statusCode).toBe(401);
    const moved = await app.inject({ method: 'POST', url: `/admin/tenants/${id}/move`,
      headers: admin, payload: { isolation: 'row' } });
    expect(moved.statusCode, moved.body).toBe(200);
    expect(moved.json()).toMatchObject({ tenantId: id, from: 'database', to: 'row',
      moved: true });

    expect(await overHttp(secret)).toEqual(readBefore);
    expect(await picture(tenancy, id)).toEqual(before);
    expect(await layoutsOf(tenancy, id)).toEqual(['row']);
    const report = await app.inject({ method: 'GET', url: `/admin/residency?tenant=${id}`,
      headers: admin });
    expect(report.json()).toMatchObject({ ok: true, tenants: [{ tenantId: id,
      isolation: 'row', status: 'active', findings: [] }] });
    const audit = await tenancy.audit.list({ tenantId: id, action: 'tenant.move' });
    expect(audit.items.map((r) => [r.outcome, r.actor.kind])).toEqual([['ok', 'admin']]);

    const again = await app.inject({ method: 'POST', url: `/admin/tenants/${id}/move`,
      headers: admin, payload: { isolation: 'row' } });
    expect(again.json()).toMatchObject({ from: 'row', to: 'row', moved: false });
  });

  it('answers a bad isolation name over the admin API with VALIDATION_FAILED', async () => {
    const { id } = await seeded('http-bad', 'schema');
    for (const payload of [{ isolation: 'rows' }, { isolation: '' }, { isolation: 3 },
      { isolation: 'row', region: 'local' }]) {
      const res = await app.inject({ method: 'POST', url: `/admin/tenants/${id}/move`,
        headers: admin, payload });
      expectError(res, 400, 'VALIDATION_FAILED');
    }
    // Naming both, or neither, says so as the CLI does.
    for (const payload of [{}, { isolation: 'row', region: 'local' }]) {
      const res = await app.inject({ method: 'POST', url: `/admin/tenants/${id}/move`,
        headers: admin, payload });
      expect((res.json() as { error: { message: string } }).error.message)
        .toBe('request is invalid: (body): name exactly one of region and isolation');
    }
    const missing = await app.inject({ method: 'POST', url: '/admin/tenants/no-such-tenant/move',
      headers: admin, payload: { isolation: 'row' } });
    expectError(missing, 404, 'TENANT_NOT_FOUND');
    expect(await tenancy.tenants.get(id)).toMatchObject({ isolation: 'schema',
      status: 'active' });
    expect(await layoutsOf(tenancy, id)).toEqual(['schema']);
  });
});
