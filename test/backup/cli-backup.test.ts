// `tenancy backup …` run as the real bin on the embedded default: archives under the data folder.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectFailure, inspect, runCli, runJson } from '../cli/cli.ts';
import { picture, seedTenant } from './support.ts';

interface BackupJson {
  id: string;
  tenantId: string;
  rows: number;
  location: string;
}

describe('tenancy backup on the embedded default', () => {
  let dataDir: string;
  let data: string[];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tenancy-cli-backup-'));
    data = ['--data', dataDir];
    await runJson(['tenants', 'create', 'acme', '--isolation', 'schema', ...data]);
    await runJson(['tenants', 'create', 'globex', '--isolation', 'row', ...data]);
    await inspect({ dataDir }, async (tenancy) => {
      await seedTenant(tenancy, 'acme', 4);
      await seedTenant(tenancy, 'globex', 2);
    });
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates, lists, verifies and restores an archive kept under the data folder', async () => {
    const before = await inspect({ dataDir }, (tenancy) => picture(tenancy, 'acme'));
    const created = await runJson<BackupJson>(['backup', 'create', 'acme', ...data]);
    expect(created.id).toMatch(/^\d{8}t\d{6}z-[0-9a-f]{8}$/);
    expect(created).toMatchObject({ tenantId: 'acme', rows: 16,
      location: join(dataDir, 'backups', 'local') });
    await stat(join(dataDir, 'backups', 'local', 'tenants', 'acme', 'backups', created.id,
      'manifest.json'));

    const listed = await runJson<{ items: BackupJson[] }>(['backup', 'list', 'acme', ...data]);
    expect(listed.items.map((b) => b.id)).toEqual([created.id]);
    const text = await runCli(['backup', 'list', 'acme', ...data]);
    expect(text.stdout).toContain(created.id);

    const verified = await runJson(['backup', 'verify', 'acme', created.id, ...data]);
    expect(verified).toMatchObject({ ok: true, rows: 16 });

    await inspect({ dataDir }, (tenancy) =>
      tenancy.withTenant('acme', (t) => t.conversations.delete('c-0')));
    const restored = await runJson(['backup', 'restore', 'acme', created.id, ...data]);
    expect(restored).toMatchObject({ tenantId: 'acme', rows: 16 });
    expect(await inspect({ dataDir }, (tenancy) => picture(tenancy, 'acme'))).toEqual(before);
  });

  it("refuses another tenant's archive, clones it, and prunes", async () => {
    const { id } = await runJson<BackupJson>(['backup', 'create', 'acme', ...data]);
    expectFailure(await runCli(['backup', 'restore', 'globex', id, '--from', 'acme', ...data]),
      'BACKUP_TENANT_MISMATCH');
    expectFailure(await runCli(['backup', 'verify', 'acme', 'nope', ...data]),
      'BACKUP_ID_INVALID');

    const clone = await runJson<{ tenantId: string; rows: number; apiKey: string;
      tenant: { isolation: string } }>(['backup', 'clone', 'acme', id, '--to', 'initech',
      '--isolation', 'row', ...data]);
    expect(clone).toMatchObject({ tenantId: 'initech', rows: 16, tenant: { isolation: 'row' } });
    expect(clone.apiKey).toMatch(/^tny_/);
    const title = await inspect({ dataDir }, (tenancy) =>
      tenancy.withTenant('initech', async (t) => (await t.conversations.get('c-2'))?.title));
    expect(title).toBe('acme chat 2');

    const pruned = await runJson<{ deleted: string[]; kept: string[] }>(
      ['backup', 'prune', 'acme', '--keep', '1', ...data]);
    expect(pruned.kept).toEqual([id]);
    expect(pruned.deleted).toHaveLength(1);
    const usage = await runCli(['backup', 'prune', 'acme', ...data]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^error \[USAGE\]: /);
  });
});
