// `tenancy audit` as the real bin on one embedded data folder: the CLI's own admin actions are
// recorded with the operator as actor, and read back newest first with the filters and cursor
// of GET /admin/audit; the printed records hold no API key secret.
import { mkdtemp, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/access/audit-log.ts';
import { expectFailure, inspect, runCli, runJson } from './cli.ts';

type Printed = Omit<AuditRecord, 'at'> & { at: string };

describe('tenancy audit on the embedded default', () => {
  let dataDir: string;
  let data: string[];
  const secrets: string[] = [];
  const operator = userInfo().username;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tenancy-cli-audit-'));
    data = ['--data', dataDir];
    for (const id of ['audit-one', 'audit-two']) {
      const created = await runJson<{ apiKey: string }>(['tenants', 'create', id,
        '--isolation', 'row', ...data]);
      secrets.push(created.apiKey);
    }
    // A refused action is recorded too, with its code.
    const again = await runCli(['tenants', 'create', 'audit-one', '--isolation', 'row', ...data]);
    expectFailure(again, 'TENANT_EXISTS');
    await runJson(['tenants', 'suspend', 'audit-two', ...data]);
    // A residency refusal as the residency guard records it.
    await inspect({ dataDir }, (tenancy) => tenancy.audit.record({
      action: 'residency.refused', outcome: 'denied', tenantId: 'audit-one',
      code: 'RESIDENCY_VIOLATION', resource: 'backup:region-us', actor: { kind: 'system' },
    }));
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('lists every record newest first, the CLI operator as actor, no secret', async () => {
    const out = await runJson<{ events: Printed[]; next: string | null }>(['audit', ...data]);
    const mine = out.events.filter((e) => e.tenantId !== null).reverse()
      .map((e) => [e.action, e.tenantId, e.outcome, e.code, e.actor.kind]);
    expect(mine).toEqual([
      ['tenant.create', 'audit-one', 'ok', null, 'cli'],
      ['tenant.create', 'audit-two', 'ok', null, 'cli'],
      ['tenant.create', 'audit-one', 'failed', 'TENANT_EXISTS', 'cli'],
      ['tenant.suspend', 'audit-two', 'ok', null, 'cli'],
      ['residency.refused', 'audit-one', 'denied', 'RESIDENCY_VIOLATION', 'system'],
    ]);
    expect(out.next).toBeNull();
    const create = out.events.find((e) => e.action === 'tenant.create');
    expect(create?.actor).toEqual({ kind: 'cli', id: operator });
    expect(create?.resource).toMatch(/^tenant:audit-/);
    const times = out.events.map((e) => Date.parse(e.at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const text = JSON.stringify(out);
    for (const secret of secrets) expect(text).not.toContain(secret.slice(secret.indexOf('_', 4) + 1));
  });

  it('filters by tenant, action family, outcome, actor and time', async () => {
    const actions = async (...args: string[]) => (await runJson<{ events: Printed[] }>(
      ['audit', ...args, ...data])).events.map((e) => `${e.action}/${e.tenantId}/${e.outcome}`);
    expect(await actions('--tenant', 'audit-two')).toEqual([
      'tenant.suspend/audit-two/ok', 'tenant.create/audit-two/ok']);
    expect(await actions('--action', 'tenant.*', '--outcome', 'failed', '--since', '1h'))
      .toEqual(['tenant.create/audit-one/failed']);
    expect(await actions('--actor', `cli:${operator}`, '--action', 'tenant.suspend',
      '--until', '2999-01-01')).toEqual(['tenant.suspend/audit-two/ok']);
  });

  it('pages with --limit and --cursor, and prints a table without --json', async () => {
    const first = await runJson<{ events: Printed[]; next: string | null }>(['audit',
      '--tenant', 'audit-one', '--limit', '2', ...data]);
    expect(first.events.map((e) => e.action)).toEqual(['residency.refused', 'tenant.create']);
    expect(first.next).not.toBeNull();
    const rest = await runJson<{ events: Printed[]; next: string | null }>(['audit',
      '--tenant', 'audit-one', '--limit', '2', '--cursor', first.next as string, ...data]);
    expect(rest.events.map((e) => [e.action, e.outcome])).toEqual([['tenant.create', 'ok']]);
    expect(rest.next).toBeNull();

    const text = await runCli(['audit', '--tenant', 'audit-one', '--limit', '1', ...data]);
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^AT\s+ACTOR\s+TENANT\s+ACTION\s+OUTCOME\s+RESOURCE\s+CODE\s+REQUEST$/);
    expect(lines[1]).toMatch(/^\S+Z\s+system\s+audit-one\s+residency\.refused\s+denied\s+/);
    expect(lines[1]).toContain('RESIDENCY_VIOLATION');
    expect(text.stderr).toMatch(/^more records: add --cursor \S+\n$/);
  });

  it('refuses a malformed filter', async () => {
    for (const args of [['--since', 'yesterday'], ['--outcome', 'maybe']]) {
      const result = await runCli(['audit', ...args, ...data]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^error \[USAGE\]: /);
    }
    const actor = await runCli(['audit', '--actor', 'robot', ...data]);
    expectFailure(actor, 'VALIDATION_FAILED');
  });
});
