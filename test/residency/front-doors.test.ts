// The residency report and region moves through the admin HTTP routes and the CLI.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import type { Tenancy } from '../../src/index.ts';
import { runCli, runJson } from '../cli/cli.ts';
import { tenantName } from '../support/drivers.ts';
import { twoRegions, type TwoRegions } from './two-regions.ts';
import { fill } from './workload.ts';

const adminToken = 'residency-admin-token-0123456789';
const admin = { authorization: `Bearer ${adminToken}` };

describe('residency front doors', () => {
  let env: TwoRegions;
  let tenancy: Tenancy;
  let app: FastifyInstance;
  let configFile: string;

  beforeAll(async () => {
    env = await twoRegions();
    tenancy = await env.open();
    app = buildApp(tenancy, { logger: false, adminToken });
    await app.ready();
    configFile = join(env.dataDir, 'config.json');
    await writeFile(configFile, JSON.stringify(env.config));
  });
  afterAll(async () => {
    await app?.close();
    await env?.cleanup();
  });

  it('answers the report and moves a tenant over the admin API', async () => {
    const id = tenantName('http');
    await tenancy.tenants.create({ id, isolation: 'row', region: 'eu' });
    await fill(tenancy, id, 'http');
    const denied = await app.inject({ method: 'GET', url: '/admin/residency' });
    expect(denied.statusCode).toBe(401);
    const before = await app.inject({ method: 'GET', url: `/admin/residency?tenant=${id}`,
      headers: admin });
    expect(before.statusCode).toBe(200);
    const body = before.json<{ ok: boolean; tenants: { tenantId: string; region: string;
      places: { region: string; kind: string }[] }[] }>();
    expect(body.ok).toBe(true);
    expect(body.tenants.map((t) => [t.tenantId, t.region])).toEqual([[id, 'eu']]);
    expect(new Set(body.tenants[0]?.places.filter((p) => p.kind !== 'catalog')
      .map((p) => p.region))).toEqual(new Set(['eu']));
    const wrong = await app.inject({ method: 'POST', url: `/admin/tenants/${id}/move`,
      headers: admin, payload: { region: 'mars' } });
    expect(wrong.statusCode).toBe(400);
    const moved = await app.inject({ method: 'POST', url: `/admin/tenants/${id}/move`,
      headers: admin, payload: { region: 'us' } });
    expect(moved.statusCode).toBe(200);
    expect(moved.json()).toMatchObject({ tenantId: id, from: 'eu', to: 'us', moved: true });
    const after = await app.inject({ method: 'GET', url: `/admin/residency?tenant=${id}`,
      headers: admin });
    const places = after.json<typeof body>().tenants[0]?.places ?? [];
    expect(new Set(places.filter((p) => p.kind === 'rows' || p.kind === 'keys')
      .map((p) => p.region))).toEqual(new Set(['us']));
    const audit = await tenancy.audit.list({ tenantId: id, action: 'tenant.move' });
    expect(audit.items.map((r) => [r.outcome, r.actor.kind])).toEqual([['ok', 'admin']]);
  });

  it('prints the report, exits 1 on a stray copy, and moves a tenant from the CLI', async () => {
    const id = tenantName('cli');
    await tenancy.tenants.create({ id, isolation: 'schema', region: 'us' });
    const clean = await runJson<{ ok: boolean }>(['residency', 'report', '--config',
      configFile]);
    expect(clean.ok).toBe(true);
    await env.sql('eu', `CREATE SCHEMA "tenant_${id}"`);
    const flagged = await runCli(['residency', 'report', id, '--config', configFile]);
    expect(flagged.code).toBe(1);
    expect(flagged.stdout).toContain(`OUT OF PLACE: rows in eu (schema tenant_${id}): ` +
      'outside-region');
    await env.sql('eu', `DROP SCHEMA "tenant_${id}"`);
    const moved = await runJson<{ moved: boolean; to: string }>(['tenants', 'move', id,
      '--region', 'eu', '--config', configFile]);
    expect(moved).toMatchObject({ moved: true, to: 'eu' });
    expect((await tenancy.tenants.get(id)).region).toBe('eu');
    const text = await runCli(['residency', 'report', id, '--config', configFile]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`${id} (region eu, schema isolation, active)`);
  });
});
