// `tenancy import` on the embedded default: a real file, bad lines, resuming, and re-runs.
import { readFileSync, statSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImportReport } from '../../src/cli/conversation-import.ts';
import { checkpointPath, writeCheckpoint } from '../../src/cli/import-checkpoint.ts';
import {
  conversationsDir, countConversations, expectFailure, inspect, runCli, runJson,
} from './cli.ts';

const coffee = join(conversationsDir, 'tm4-coffee.jsonl');
const coffeeLines = readFileSync(coffee, 'utf8').trimEnd().split('\n');
const coffeeMessages = coffeeLines
  .map((line) => (JSON.parse(line) as { messages: unknown[] }).messages.length)
  .reduce((a, b) => a + b, 0);

describe('tenancy import on the embedded default', () => {
  let dataDir: string;
  let data: string[];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tenancy-cli-import-'));
    data = ['--data', dataDir];
    for (const id of ['coffee-co', 'planted-co', 'resume-co']) {
      await runJson(['tenants', 'create', id, '--isolation', 'schema', ...data]);
    }
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('imports a real file once; running it again adds nothing', async () => {
    const first = await runJson<ImportReport>(['import', 'coffee-co', coffee, ...data]);
    expect(first).toMatchObject({
      tenant: 'coffee-co', file: coffee, imported: 600, alreadyPresent: 0, skipped: 0,
      badLines: [], resumedFrom: 0, complete: true,
    });
    // The checkpoint says the file is done: nothing is read again.
    const again = await runJson<ImportReport>(['import', 'coffee-co', coffee, ...data]);
    expect(again).toMatchObject({
      imported: 0, alreadyPresent: 0, resumedFrom: 600, complete: true,
    });
    const text = await runCli(['import', 'coffee-co', coffee, ...data]);
    expect(text.stdout).toContain('was already imported into coffee-co (600 lines)');
    // --restart reads every line again, and every id is found present.
    const restarted = await runJson<ImportReport>(
      ['import', 'coffee-co', coffee, '--restart', ...data]);
    expect(restarted).toMatchObject({ imported: 0, alreadyPresent: 600, resumedFrom: 0 });
    const counts = await inspect({ dataDir }, (t) => countConversations(t, 'coffee-co'));
    expect(counts).toEqual({ conversations: 600, distinct: 600, messages: coffeeMessages });
  });

  it('skips bad lines by number, without their content, and imports the rest', async () => {
    const good = (id: string): string =>
      JSON.stringify({ id, title: `talk ${id}`, messages: [{ role: 'user', content: 'hello' }] });
    const file = join(dataDir, 'planted.jsonl');
    await writeFile(file, [
      good('p-1'),
      '{"id": "p-2", "title": "SECRET-CONTENT", oops',
      good('p-3'),
      JSON.stringify({ id: 'p-4', messages: [{ role: 'user', content: 'SECRET-CONTENT' }] }),
      good('p-5'),
      good('p-6'),
    ].join('\n'));
    const result = await runCli(['import', 'planted-co', file, '--json', ...data]);
    expect(result.code).toBe(3);
    const report = JSON.parse(result.stdout) as ImportReport;
    expect(report).toMatchObject({ imported: 4, skipped: 2, alreadyPresent: 0, complete: true });
    expect(report.badLines).toEqual([
      { line: 2, code: 'VALIDATION_FAILED', message: 'line is not valid JSON' },
      { line: 4, code: 'VALIDATION_FAILED', message: expect.stringMatching(/^title: /) },
    ]);
    expect(result.stdout + result.stderr).not.toContain('SECRET');
    const text = await runCli(['import', 'planted-co', file, '--restart', ...data]);
    expect(text.code).toBe(3);
    expect(text.stdout).toContain('skipped 2 bad line(s):\n  line 2: [VALIDATION_FAILED]');
    expect(text.stdout).toMatch(/^ {2}line 4: \[VALIDATION_FAILED\] title: /m);
  });

  it('keeps the good lines of a batch whose insert the database refused', async () => {
    // A NUL character passes validation but Postgres jsonb refuses it (metadata is stored in
    // the clear): that one batch is retried line by line, so only the offending line is
    // skipped. Message content is sealed into bytea, so a NUL there is kept like any other
    // character.
    const file = join(dataDir, 'nul.jsonl');
    const lines = Array.from({ length: 5 }, (_, i) => JSON.stringify({
      id: `nul-${i + 1}`, title: `t${i}`,
      ...(i === 2 ? { metadata: { note: 'a\u0000SECRET-CONTENT' } } : {}),
      messages: [{ role: 'user', content: i === 3 ? 'a\u0000b' : 'fine' }],
    }));
    await writeFile(file, `${lines.join('\n')}\n`);
    const result = await runCli(['import', 'planted-co', file, '--json', ...data]);
    expect(result.code).toBe(3);
    const report = JSON.parse(result.stdout) as ImportReport;
    expect(report.imported).toBe(4);
    expect(report.badLines).toEqual([
      { line: 3, code: 'DATABASE_ERROR', message: 'database error (SQLSTATE 22P05)' },
    ]);
    expect(result.stdout).not.toContain('SECRET');
    const counts = await inspect({ dataDir }, async (t) => ({
      ...await countConversations(t, 'planted-co'),
      nul: await t.withTenant('planted-co', async ({ conversations }) =>
        (await conversations.get('nul-4'))?.messages[0]?.content),
    }));
    expect(counts).toEqual({ conversations: 8, distinct: 8, messages: 8, nul: 'a\u0000b' });
  });

  it('resumes after the checkpoint of a run that died, with no duplicates', async () => {
    // Lines 1-350 reached the database, but the run died before recording its last batch,
    // so the checkpoint says 300.
    const file = join(dataDir, 'resume.jsonl');
    await copyFile(coffee, file);
    const head = join(dataDir, 'head.jsonl');
    await writeFile(head, `${coffeeLines.slice(0, 350).join('\n')}\n`);
    expect((await runJson<ImportReport>(['import', 'resume-co', head, ...data])).imported)
      .toBe(350);
    const stats = statSync(file);
    writeCheckpoint(checkpointPath(dataDir, 'resume-co', file, stats), {
      file, size: stats.size, mtimeMs: stats.mtimeMs, line: 300, done: false,
      updatedAt: new Date().toISOString(),
    });
    const resumed = await runJson<ImportReport>(['import', 'resume-co', file, ...data]);
    expect(resumed).toMatchObject({
      resumedFrom: 300, imported: 250, alreadyPresent: 50, skipped: 0, complete: true,
    });
    const counts = await inspect({ dataDir }, (t) => countConversations(t, 'resume-co'));
    expect(counts).toEqual({ conversations: 600, distinct: 600, messages: coffeeMessages });
  });

  it('fails clearly for a missing file, an unknown tenant and a suspended one', async () => {
    expectFailure(await runCli(['import', 'coffee-co', join(dataDir, 'nope.jsonl'), ...data]),
      'FILE_UNREADABLE');
    expectFailure(await runCli(['import', 'nobody-co', coffee, ...data]), 'TENANT_NOT_FOUND');
    await runJson(['tenants', 'suspend', 'coffee-co', ...data]);
    expectFailure(await runCli(['import', 'coffee-co', coffee, '--restart', ...data]),
      'TENANT_SUSPENDED');
  });
});
