// Where an import of one file into one tenant got to, kept under the data folder so it resumes.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export interface ImportCheckpoint {
  file: string;
  size: number;
  mtimeMs: number;
  /** The last line whose batch committed; every line up to it needs no second look. */
  line: number;
  /** The whole file went through. */
  done: boolean;
  updatedAt: string;
}

/**
 * The checkpoint file of one (tenant, file) pair. The name hashes the absolute path, size and
 * modification time, so an edited file starts over instead of resuming at a stale line.
 */
export function checkpointPath(
  dataDir: string,
  tenant: string,
  file: string,
  stats: Pick<Stats, 'size' | 'mtimeMs'>,
): string {
  const key = createHash('sha256')
    .update(`${resolve(file)}\n${stats.size}\n${stats.mtimeMs}`)
    .digest('hex');
  return join(resolve(dataDir), 'imports', tenant, `${key}.json`);
}

/** The saved checkpoint, or undefined when there is none or it cannot be read. */
export function readCheckpoint(path: string): ImportCheckpoint | undefined {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    // Missing or torn: starting over is safe, because an import never adds an id twice.
    return undefined;
  }
  const saved = value as Partial<ImportCheckpoint> | null;
  if (typeof saved?.line !== 'number' || !Number.isInteger(saved.line) || saved.line < 0) {
    return undefined;
  }
  return saved as ImportCheckpoint;
}

/** Saves the checkpoint atomically: a crash leaves the old one or the new one, never half. */
export function writeCheckpoint(path: string, checkpoint: ImportCheckpoint): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(checkpoint)}\n`);
  renameSync(temporary, path);
}
