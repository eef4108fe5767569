// An export written to a temporary file and read back, for a copy whose two ends cannot be
// open at once (both layouts in PGlite's one-connection database): memory stays flat.
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeCopyRows } from './copy-text.ts';
import type { ExportPart } from './tenant-export.ts';

/** A spilled export: iterate it (as often as needed), then close it to delete the file. */
export interface SpilledExport extends AsyncIterable<ExportPart> {
  /** Bytes on disk. */
  readonly bytes: number;
  close(): Promise<void>;
}

const header = 12;

/**
 * Reads `parts` to the end into a file in a fresh folder under `dir` (owner-only), as COPY text
 * records: `table length | rows | text length | table | text`. The table list stays in memory.
 *
 * @example
 * const spilled = await spillExport(exportTenant(source, 'acme'), dataDir);
 * try { await importTenant(target, 'acme', spilled, …) } finally { await spilled.close() }
 */
export async function spillExport(parts: AsyncIterable<ExportPart>, dir: string):
  Promise<SpilledExport> {
  const folder = await mkdtemp(join(dir, 'spill-'));
  const path = join(folder, 'export.bin');
  const first: ExportPart[] = [];
  let bytes = 0;
  try {
    const file = await open(path, 'wx', 0o600);
    try {
      for await (const part of parts) {
        if (part.kind === 'tables') {
          first.push(part);
          continue;
        }
        const text = part.kind === 'copy' ? part.text
          : Buffer.from(encodeCopyRows(part.rows), 'utf8');
        const rows = part.kind === 'copy' ? part.rows : part.rows.length;
        const table = Buffer.from(part.table, 'utf8');
        const head = Buffer.alloc(header);
        head.writeUInt32BE(table.length, 0);
        head.writeUInt32BE(rows, 4);
        head.writeUInt32BE(text.length, 8);
        await file.writev([head, table, text]);
        bytes += header + table.length + text.length;
      }
    } finally {
      await file.close();
    }
  } catch (err) {
    await rm(folder, { recursive: true, force: true });
    throw err;
  }
  return {
    bytes,
    async *[Symbol.asyncIterator]() {
      yield* first;
      const file = await open(path, 'r');
      try {
        yield* readRecords(file, bytes);
      } finally {
        await file.close();
      }
    },
    close: () => rm(folder, { recursive: true, force: true }),
  };
}

async function* readRecords(file: FileHandle, size: number): AsyncGenerator<ExportPart> {
  let at = 0;
  while (at < size) {
    const head = await readExactly(file, header, at);
    const tableLength = head.readUInt32BE(0);
    const rows = head.readUInt32BE(4);
    const textLength = head.readUInt32BE(8);
    const body = await readExactly(file, tableLength + textLength, at + header);
    at += header + body.length;
    yield {
      kind: 'copy', table: body.subarray(0, tableLength).toString('utf8'),
      text: body.subarray(tableLength), rows,
    };
  }
}

async function readExactly(file: FileHandle, length: number, position: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw new Error('the spilled export ends early');
    done += bytesRead;
  }
  return buffer;
}
