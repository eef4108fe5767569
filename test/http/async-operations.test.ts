// Long admin work answered before it ends: with `Prefer: respond-async` a backup, verify,
// restore or move answers 202 with a Location to poll, and the poll shows progress and then
// the same report the synchronous route gives, or the error's stable code.
import { describe, expect, it } from 'vitest';
import { seedTenant, picture } from '../backup/support.ts';
import { admin, useApp } from './harness.ts';

const asyncly = { ...admin, prefer: 'respond-async' };

interface View {
  id: string;
  kind: string;
  tenantId: string;
  status: 'running' | 'done' | 'failed';
  progress: { phase: string; rows?: number; total?: number } | null;
  result: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
  finishedAt: string | null;
}

describe('admin operations with Prefer: respond-async (PGlite)', () => {
  const d = useApp('pglite');

  const post = (url: string, payload: object = {}) =>
    d.app.inject({ method: 'POST', url, headers: asyncly, payload });

  /** Polls the Location the 202 named until the operation ends. */
  async function settle(started: { statusCode: number; headers: Record<string, unknown>;
    body: string; json(): unknown }): Promise<View> {
    expect(started.statusCode, started.body).toBe(202);
    expect(started.headers['preference-applied']).toBe('respond-async');
    const location = started.headers.location as string;
    expect(location).toBe(`/admin/operations/${(started.json() as View).id}`);
    for (;;) {
      const polled = await d.app.inject({ url: location, headers: admin });
      expect(polled.statusCode, polled.body).toBe(200);
      const view = polled.json() as View;
      if (view.status !== 'running') return view;
      await new Promise((wake) => setTimeout(wake, 20));
    }
  }

  it('backs up, verifies and restores a tenant in the background', async () => {
    expect((await d.app.inject({ method: 'POST', url: '/admin/tenants', headers: admin,
      payload: { id: 'naboo', isolation: 'schema' } })).statusCode).toBe(201);
    await seedTenant(d.tenancy, 'naboo', 30);
    const before = await picture(d.tenancy, 'naboo');

    const created = await settle(await post('/admin/tenants/naboo/backups'));
    expect(created).toMatchObject({ kind: 'backup.create', tenantId: 'naboo', status: 'done',
      error: null });
    expect(created.progress).toEqual({ phase: 'backup', rows: 120, total: 120 });
    const backupId = created.result?.id as string;
    expect(backupId).toMatch(/^\d{8}t\d{6}z-[0-9a-f]{8}$/);
    expect(created.result).toMatchObject({ tenantId: 'naboo', rows: 120 });

    const verified = await settle(await post(`/admin/tenants/naboo/backups/${backupId}/verify`));
    expect(verified).toMatchObject({ status: 'done', result: { ok: true, rows: 120 } });

    await d.tenancy.withTenant('naboo', (t) => t.conversations.delete('c-1'));
    const restored = await settle(
      await post(`/admin/tenants/naboo/backups/${backupId}/restore`));
    expect(restored).toMatchObject({ kind: 'backup.restore', status: 'done',
      result: { tenantId: 'naboo', rows: 120 } });
    expect(restored.progress).toMatchObject({ phase: 'restore', rows: 120, total: 120 });
    expect(await picture(d.tenancy, 'naboo')).toEqual(before);
  });

  it('reports a failure by its stable code, and answers an unknown tenant at once', async () => {
    expect((await d.app.inject({ method: 'POST', url: '/admin/tenants', headers: admin,
      payload: { id: 'dagobah', isolation: 'row' } })).statusCode).toBe(201);
    const failed = await settle(
      await post('/admin/tenants/dagobah/backups/20260101t000000z-00000000/restore'));
    expect(failed).toMatchObject({ status: 'failed', result: null,
      error: { code: 'BACKUP_NOT_FOUND' } });
    expect(failed.finishedAt).not.toBeNull();

    const unknown = await post('/admin/tenants/no-such-tenant/backups');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: 'TENANT_NOT_FOUND' } });
    const lost = await d.app.inject({ url: '/admin/operations/op-0123456789abcdef01234567',
      headers: admin });
    expect(lost.statusCode).toBe(404);
    expect(lost.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    const unauthorised = await d.app.inject({ url: `/admin/operations/${failed.id}` });
    expect(unauthorised.statusCode).toBe(401);
  });

  it('moves a tenant between isolations in the background', async () => {
    expect((await d.app.inject({ method: 'POST', url: '/admin/tenants', headers: admin,
      payload: { id: 'kashyyyk', isolation: 'row' } })).statusCode).toBe(201);
    await seedTenant(d.tenancy, 'kashyyyk', 4);
    const before = await picture(d.tenancy, 'kashyyyk');
    const moved = await settle(await post('/admin/tenants/kashyyyk/move',
      { isolation: 'schema' }));
    expect(moved).toMatchObject({ kind: 'tenant.move', status: 'done',
      result: { tenantId: 'kashyyyk', from: 'row', to: 'schema', moved: true } });
    expect(moved.progress).toEqual({ phase: 'source-destroyed' });
    expect((await d.tenancy.tenants.get('kashyyyk')).isolation).toBe('schema');
    expect(await picture(d.tenancy, 'kashyyyk')).toEqual(before);
  });

  it('takes a backup and a restore POSTed with no body at all (the curl example)', async () => {
    expect((await d.app.inject({ method: 'POST', url: '/admin/tenants', headers: admin,
      payload: { id: 'alderaan', isolation: 'row' } })).statusCode).toBe(201);
    await seedTenant(d.tenancy, 'alderaan', 2);
    const created = await settle(await d.app.inject({ method: 'POST',
      url: '/admin/tenants/alderaan/backups', headers: asyncly }));
    expect(created).toMatchObject({ status: 'done', result: { rows: 8 } });
    const restored = await d.app.inject({ method: 'POST', headers: admin,
      url: `/admin/tenants/alderaan/backups/${created.result?.id as string}/restore` });
    expect(restored.statusCode, restored.body).toBe(200);
    expect(restored.json()).toMatchObject({ tenantId: 'alderaan', rows: 8 });
  });

  it('still answers synchronously without the preference', async () => {
    expect((await d.app.inject({ method: 'POST', url: '/admin/tenants', headers: admin,
      payload: { id: 'tatooine', isolation: 'schema' } })).statusCode).toBe(201);
    const created = await d.app.inject({ method: 'POST', url: '/admin/tenants/tatooine/backups',
      headers: admin, payload: {} });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ tenantId: 'tatooine', rows: 0 });
  });
});
