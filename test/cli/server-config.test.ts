// The CLI against a Postgres server named in a config file: create, import, and survive SIGKILL.
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImportReport } from '../../src/cli/conversation-import.ts';
import type { ImportCheckpoint } from '../../src/cli/import-checkpoint.ts';
import { freshDeployment, serverAvailable, type TestDeployment } from '../support/drivers.ts';
import {
  conversationsDir, countConversations, finished, inspect, runJson, startCli,
} from './cli.ts';

const available = await serverAvailable();

function messagesIn(text: string): number {
  return text.trimEnd().split('\n')
    .map((line) => (JSON.parse(line) as { messages: unknown[] }).messages.length)
    .reduce((a, b) => a + b, 0);
}

/** Polls until `check` is true; the import under test moves in well under a second a batch. */
async function until(check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe.skipIf(!available)('tenancy with a Postgres server config', () => {
  let deployment: TestDeployment;
  let args: string[];

  beforeAll(async () => {
    deployment = await freshDeployment('pg');
    const configFile = join(deployment.dataDir, 'tenancy.json');
    await writeFile(configFile, JSON.stringify(deployment.config));
    args = ['--config', configFile, '--data', deployment.dataDir];
  });

  afterAll(async () => {
    await deployment.cleanup();
  });

  it('creates tenants on the server and imports a real file into one', async () => {
    const created = await runJson(
      ['tenants', 'create', 'server-co', '--isolation', 'database', ...args]);
    expect(created).toMatchObject({ id: 'server-co', isolation: 'database', status: 'active' });
    const file = join(conversationsDir, 'tm4-coffee.jsonl');
    const report = await runJson<ImportReport>(['import', 'server-co', file, ...args]);
    expect(report).toMatchObject({ imported: 600, alreadyPresent: 0, skipped: 0, complete: true });
    const counts = await inspect(deployment.config, (t) => countConversations(t, 'server-co'));
    expect(counts).toEqual({
      conversations: 600, distinct: 600, messages: messagesIn(readFileSync(file, 'utf8')),
    });
  });

  it('resumes an import killed with SIGKILL and ends with each line exactly once', async () => {
    await runJson(['tenants', 'create', 'killed-co', '--isolation', 'row', ...args]);
    // Every conversation file in one: about 2,400 lines, two dozen batches.
    const names = readdirSync(conversationsDir).filter((n) => n.endsWith('.jsonl')).sort();
    const text = (await Promise.all(names.map((n) => readFile(join(conversationsDir, n), 'utf8'))))
      .map((t) => t.trimEnd()).join('\n');
    const lines = text.split('\n').length;
    const file = join(deployment.dataDir, 'everything.jsonl');
    await writeFile(file, `${text}\n`);

    const folder = join(deployment.dataDir, 'imports', 'killed-co');
    const saved = (): ImportCheckpoint | undefined => {
      try {
        const [name] = readdirSync(folder).filter((n) => n.endsWith('.json'));
        return name === undefined ? undefined
          : JSON.parse(readFileSync(join(folder, name), 'utf8')) as ImportCheckpoint;
      } catch {
        return undefined;
      }
    };
    const child = startCli(['import', 'killed-co', file, '--json', ...args]);
    const exited = finished(child);
    await until(() => (saved()?.line ?? 0) >= 300);
    child.kill('SIGKILL');
    const killed = await exited;
    expect(killed.code).toBeNull();
    const at = saved() as ImportCheckpoint;
    expect(at.done).toBe(false);
    expect(at.line).toBeLessThan(lines);

    const resumed = await runJson<ImportReport>(['import', 'killed-co', file, ...args]);
    expect(resumed.resumedFrom).toBe(at.line);
    expect(resumed.complete).toBe(true);
    expect(resumed.skipped).toBe(0);
    // Lines after the checkpoint were either added now or committed just before the kill.
    expect(resumed.imported + resumed.alreadyPresent).toBe(lines - at.line);
    expect(resumed.alreadyPresent).toBeLessThanOrEqual(100);
    const counts = await inspect(deployment.config, (t) => countConversations(t, 'killed-co'));
    expect(counts).toEqual({ conversations: lines, distinct: lines, messages: messagesIn(text) });
  });
});
