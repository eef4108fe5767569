// `tenancy keys …` and `tenancy tenants delete --shred` run as the real bin on one embedded
// data folder.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyStatus, ReencryptProgress } from '../../src/index.ts';
import { expectFailure, inspect, runCli, runJson } from '../cli/cli.ts';

interface DeletionJson {
  tenantId: string;
  region: string;
  shredded: boolean;
  deletedAt: string;
  keyIds: string[];
}

// Each command is a process of its own that opens the data folder: slow on a busy machine.
const cliTimeout = 600_000;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe('tenancy keys on the embedded default', () => {
  let dataDir: string;
  let args: string[];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tenancy-cli-keys-'));
    // A short key cache age, so a retire need not wait the default minute.
    const config = join(dataDir, 'tenancy.json');
    await writeFile(config, JSON.stringify({ dataDir, keyCache: { maxAgeSeconds: 1 } }));
    args = ['--config', config];
    for (const [id, isolation] of [['alpha', 'row'], ['beta', 'database']]) {
      await runJson(['tenants', 'create', id as string, '--isolation', isolation as string,
        ...args]);
    }
    await inspect({ dataDir, keyCache: { maxAgeSeconds: 1 } }, async (tenancy) => {
      for (const id of ['alpha', 'beta']) {
        await tenancy.withTenant(id, async (t) => {
          await t.conversations.create({ id: 'c-1', title: `${id} title`, messages: [
            { role: 'user', content: 'one' }, { role: 'assistant', content: 'two' },
          ] });
          await t.documents.create({ id: 'd-1', title: 'doc', text: 'text' });
        });
      }
    });
  }, cliTimeout);

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('shows the keyring as JSON and as text', async () => {
    const status = await runJson<KeyStatus>(['keys', 'status', 'alpha', ...args]);
    expect(status).toMatchObject({ tenantId: 'alpha', region: 'local', provider: 'local',
      activeVersion: 1, valuesByVersion: { 1: 5 }, reencrypt: null });
    expect(status.masterKeyId).toMatch(/^mk-[0-9a-f]{32}$/);
    const text = await runCli(['keys', 'status', 'alpha', ...args]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('active data key version 1');
    expect(text.stdout).toMatch(/^1 +dk-[0-9a-f]{32}-v1 +active +5 /m);

  }, cliTimeout);

  it('rotates, refuses to retire early, re-encrypts, then retires', async () => {
    const rotated = await runJson<KeyStatus>(['keys', 'rotate', 'alpha', ...args]);
    expect(rotated.activeVersion).toBe(2);
    expect(rotated.dataKeys.map((k) => k.state)).toEqual(['previous', 'active']);
    const refused = expectFailure(await runCli(['keys', 'retire', 'alpha', '1', ...args]),
      'KEY_VERSION_IN_USE');
    expect(refused).toContain('key version 1 still encrypts 5 values; run keys reencrypt first: it cannot be retired yet');
    expectFailure(await runCli(['keys', 'retire', 'alpha', 'one', ...args]), 'USAGE', 2);

    const run = await runJson<ReencryptProgress>(['keys', 'reencrypt', 'alpha', ...args]);
    expect(run).toMatchObject({ tenantId: 'alpha', targetVersion: 2, finished: true,
      rewritten: 5, done: 4, total: 4, resumed: false });
    const again = await runCli(['keys', 'reencrypt', 'alpha', ...args]);
    expect(again.stdout).toContain('re-encrypted alpha to key version 2: 4 rows visited, ' +
      '0 values rewritten');
    await sleep(1100);
    const retired = await runCli(['keys', 'retire', 'alpha', '1', ...args]);
    expect(retired.stderr).toBe('');
    expect(retired.stdout).toContain('retired data key version 1 of alpha');
    const after = await runJson<KeyStatus>(['keys', 'status', 'alpha', ...args]);
    expect(after.dataKeys.map((k) => [k.version, k.state]))
      .toEqual([[1, 'retired'], [2, 'active']]);
    expect(after.valuesByVersion).toEqual({ 2: 5 });
    expect(after.reencrypt).toMatchObject({ targetVersion: 2, rewritten: 0 });
    const read = await inspect({ dataDir }, (tenancy) => tenancy.withTenant('alpha',
      (t) => t.conversations.get('c-1')));
    expect(read?.title).toBe('alpha title');
  }, cliTimeout);

  it('rotates the root key, rewrapping every master key', async () => {
    const before = await runJson<KeyStatus>(['keys', 'status', 'beta', ...args]);
    const result = await runJson<{ regions: { region: string; rootKeyId: string;
      rewrapped: number }[] }>(['keys', 'rotate-root', ...args]);
    expect(result.regions).toEqual([{ region: 'local', rootKeyId: expect.stringMatching(/^v2-/),
      rewrapped: 2 }]);
    const after = await runJson<KeyStatus>(['keys', 'status', 'beta', ...args]);
    expect(after.rootKeyId).toBe(result.regions[0]?.rootKeyId);
    expect(after.rootKeyId).not.toBe(before.rootKeyId);
    const text = await runCli(['keys', 'rotate-root', '--region', 'local', ...args]);
    expect(text.stdout).toMatch(/^region local: root key v3-[0-9a-f]{8} is current; 2 master/);
  }, cliTimeout);

  it('shreds a tenant and prints the deletion record, as JSON and as text', async () => {
    const status = await runJson<KeyStatus>(['keys', 'status', 'beta', ...args]);
    const record = await runJson<DeletionJson>(['tenants', 'delete', 'beta', '--shred', ...args]);
    expect(record).toMatchObject({ tenantId: 'beta', region: 'local', shredded: true });
    expect(Date.parse(record.deletedAt)).not.toBeNaN();
    expect(record.keyIds).toEqual([status.masterKeyId, ...status.dataKeys.map((k) => k.keyId),
      ...status.indexKeys.map((k) => k.keyId)]);
    expectFailure(await runCli(['keys', 'status', 'beta', ...args]), 'KEYS_DESTROYED');
    // Shredding a tenant deleted earlier without --shred, as text.
    await runJson(['tenants', 'delete', 'alpha', ...args]);
    const text = await runCli(['tenants', 'delete', 'alpha', '--shred', ...args]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^shredded tenant alpha \(region local\) at /);
    expect(text.stdout).toContain('destroyed 4 key(s):\n  mk-');
  }, cliTimeout);
});
