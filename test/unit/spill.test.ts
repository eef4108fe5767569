// An export spilled to a file reads back as the same rows, as often as asked, and leaves
// nothing behind once closed.
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCopyRows } from '../../src/backup/copy-text.ts';
import { spillExport } from '../../src/backup/spill.ts';
import type { ExportPart, TextRow } from '../../src/backup/tenant-export.ts';

const rowsA: TextRow[] = [['1', 'tab\there', null], ['2', 'line\nbreak\\', '\\N']];
const rowsB: TextRow[] = [['x', '']];
const tables = [
  { name: 'a', columns: [{ name: 'id', type: 'text' }, { name: 'v', type: 'text' },
    { name: 'w', type: 'text' }], rows: 2 },
  { name: 'b', columns: [{ name: 'id', type: 'text' }, { name: 'v', type: 'text' }], rows: 1 },
];

async function* source(): AsyncGenerator<ExportPart> {
  yield { kind: 'tables', tables };
  yield { kind: 'rows', table: 'a', rows: rowsA.slice(0, 1) };
  yield { kind: 'rows', table: 'a', rows: rowsA.slice(1) };
  yield { kind: 'rows', table: 'b', rows: rowsB };
}

async function read(parts: AsyncIterable<ExportPart>): Promise<Record<string, TextRow[]>> {
  const out: Record<string, TextRow[]> = {};
  for await (const part of parts) {
    if (part.kind === 'tables') continue;
    const width = tables.find((t) => t.name === part.table)?.columns.length ?? -1;
    const rows = part.kind === 'copy' ? decodeCopyRows(part.text, width, part.table) : part.rows;
    (out[part.table] ??= []).push(...rows);
  }
  return out;
}

describe('spilled exports', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'tenancy-spill-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('read back the same rows, twice, from an owner-only file, and are gone once closed',
    async () => {
    const spilled = await spillExport(source(), dir);
    const [folder] = await readdir(dir);
    expect(folder).toMatch(/^spill-/);
    const mode = (await stat(join(dir, folder as string, 'export.bin'))).mode & 0o777;
    expect(mode).toBe(0o600);
    const first = spilled[Symbol.asyncIterator]();
    expect((await first.next()).value).toEqual({ kind: 'tables', tables });
    await first.return?.();
    expect(await read(spilled)).toEqual({ a: rowsA, b: rowsB });
    expect(await read(spilled)).toEqual({ a: rowsA, b: rowsB });
    await spilled.close();
    expect(await readdir(dir)).toEqual([]);
  });

  it('remove the file when the export fails part way', async () => {
    async function* failing(): AsyncGenerator<ExportPart> {
      yield { kind: 'tables', tables };
      yield { kind: 'rows', table: 'a', rows: rowsA };
      throw new Error('the source went away');
    }
    await expect(spillExport(failing(), dir)).rejects.toThrow('the source went away');
    expect(await readdir(dir)).toEqual([]);
  });
});
