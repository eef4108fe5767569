// /admin backup routes in-process: create, list, verify, restore, clone, prune, refusals.
import { describe, expect, it } from 'vitest';
import { admin, pgAvailable, useApp } from '../http/harness.ts';
import { seedTenant } from './support.ts';

describe.skipIf(!pgAvailable)('admin backup routes (pg)', () => {
  const d = useApp('pg');

  it('runs every backup operation and answers refusals with stable codes', async () => {
    const post = (url: string, payload: object = {}) =>
      d.app.inject({ method: 'POST', url, headers: admin, payload });
    expect((await post('/admin/tenants', { id: 'hoth', isolation: 'schema' })).statusCode)
      .toBe(201);
    expect((await post('/admin/tenants', { id: 'endor', isolation: 'row' })).statusCode)
      .toBe(201);
    await seedTenant(d.tenancy, 'hoth', 3);

    const created = await post('/admin/tenants/hoth/backups');
    expect(created.statusCode, created.body).toBe(201);
    const { id, rows } = created.json() as { id: string; rows: number };
    expect(rows).toBe(12);

    const listed = await d.app.inject({ url: '/admin/tenants/hoth/backups', headers: admin });
    expect((listed.json() as { items: { id: string }[] }).items.map((b) => b.id)).toEqual([id]);
    expect((await post(`/admin/tenants/hoth/backups/${id}/verify`)).json())
      .toMatchObject({ ok: true, rows: 12 });
    const restored = await post(`/admin/tenants/hoth/backups/${id}/restore`);
    expect(restored.json()).toMatchObject({ tenantId: 'hoth', rows: 12 });

    const refused = await post(`/admin/tenants/endor/backups/${id}/restore`, { from: 'hoth' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ error: { code: 'BACKUP_TENANT_MISMATCH' } });
    const missing = await post('/admin/tenants/hoth/backups/20260101t000000z-00000000/verify');
    expect(missing.json()).toMatchObject({ error: { code: 'BACKUP_NOT_FOUND' } });

    const cloned = await post(`/admin/tenants/hoth/backups/${id}/clone`,
      { to: 'yavin', isolation: 'database' });
    expect(cloned.statusCode, cloned.body).toBe(201);
    const clone = cloned.json() as { tenantId: string; apiKey: { secret: string } };
    expect(clone.tenantId).toBe('yavin');
    const chat = await d.app.inject({ url: '/v1/conversations/c-1',
      headers: { authorization: `Bearer ${clone.apiKey.secret}` } });
    expect(chat.json()).toMatchObject({ title: 'hoth chat 1' });

    const pruned = await post('/admin/tenants/hoth/backups/prune', { keep: 0 });
    expect(pruned.json()).toMatchObject({ deleted: [id], kept: [] });
    const unauthorised = await d.app.inject({ url: '/admin/tenants/hoth/backups' });
    expect(unauthorised.statusCode).toBe(401);
  });
});
