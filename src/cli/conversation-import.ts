// Imports conversations from a JSON-lines file into one tenant: batched, resumable, idempotent.
import { createReadStream, statSync, type Stats } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import {
  isTenancyError, parseTenantId, type Tenancy, type TenancyError, type TenantScope,
} from '../index.ts';
import { CliError } from './cli-error.ts';
import { checkpointPath, readCheckpoint, writeCheckpoint } from './import-checkpoint.ts';

type ConversationInput = Parameters<TenantScope['conversations']['createIfAbsent']>[0];

/** A line that was skipped: its number and why, never its content. */
export interface BadLine {
  line: number;
  code: string;
  message: string;
}

export interface ImportReport {
  tenant: string;
  file: string;
  /** Conversations this run added. */
  imported: number;
  /** Lines this run skipped as bad; they are listed in `badLines`. */
  skipped: number;
  /** Conversations whose id the tenant already had, e.g. from an earlier run. */
  alreadyPresent: number;
  badLines: BadLine[];
  /** The line after which this run started: 0 from the top, else a checkpoint's line. */
  resumedFrom: number;
  /** The last line this run got through. */
  lastLine: number;
  /** True when the whole file went through (now or in an earlier run). */
  complete: boolean;
}

export interface ImportOptions {
  tenant: string;
  file: string;
  dataDir: string;
  /** Ignore a checkpoint and read the file from its first line. */
  restart?: boolean | undefined;
  batchSize?: number | undefined;
  /** Aborting stops the import after the batch in flight; its checkpoint stays usable. */
  signal?: AbortSignal | undefined;
  /** Called once before the first line is read, with the line the run resumes after. */
  onStart?: ((resumedFrom: number) => void) | undefined;
  /** Called after each committed batch with its last line. */
  onProgress?: ((line: number) => void) | undefined;
}

type Outcome = 'imported' | 'present' | BadLine;

interface Pending {
  line: number;
  value: unknown;
}

// Errors that belong to one line's data: it failed validation, or Postgres refused its values
// (SQLSTATE class 22, data exception, or 23, integrity constraint). Anything else (a suspended
// tenant, a lost connection) stops the import with the checkpoint where it was, so lines are
// never written off as bad because of an outage.
function isLineFault(err: unknown): err is TenancyError {
  if (!isTenancyError(err)) return false;
  if (err.code === 'VALIDATION_FAILED') return true;
  return /^2[23]/.test(err.sqlState ?? '');
}

// Catalogue messages carry no values; the SQLSTATE says which rule a row broke.
function badLine(line: number, err: TenancyError): BadLine {
  const message = err.message.replace(/^request is invalid: /, '');
  const state = err.sqlState === undefined ? '' : ` (SQLSTATE ${err.sqlState})`;
  return { line, code: err.code, message: `${message}${state}` };
}

/** Stats the file, or fails with FILE_UNREADABLE. */
export function statImportFile(file: string): Stats {
  let stats: Stats;
  try {
    stats = statSync(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new CliError('FILE_UNREADABLE', `cannot read ${file} (${reason})`);
  }
  if (!stats.isFile()) throw new CliError('FILE_UNREADABLE', `${file} is not a file`);
  return stats;
}

/**
 * Reads the file line by line and adds each conversation with `createIfAbsent`, about
 * `batchSize` lines per tenant session. After each committed batch the checkpoint records its
 * last line, so a run that dies resumes there; ids already present are counted, not doubled.
 *
 * @example
 * await importConversations(tenancy, { tenant: 'acme', file: 'chats.jsonl', dataDir });
 * // per batch: BEGIN; set_config('tenancy.tenant_id', 'acme', true);
 * // INSERT … ON CONFLICT (tenant_id, id) DO NOTHING; INSERT INTO messages …; COMMIT
 */
export async function importConversations(tenancy: Tenancy, options: ImportOptions):
  Promise<ImportReport> {
  const tenant = parseTenantId(options.tenant);
  const file = resolve(options.file);
  const stats = statImportFile(file);
  // Fails now with TENANT_NOT_FOUND or TENANT_SUSPENDED rather than after reading a batch.
  await tenancy.withTenant(tenant, async () => undefined);
  const checkpointFile = checkpointPath(options.dataDir, tenant, file, stats);
  const saved = options.restart === true ? undefined : readCheckpoint(checkpointFile);
  const from = saved?.line ?? 0;
  const report: ImportReport = {
    tenant, file, imported: 0, skipped: 0, alreadyPresent: 0, badLines: [],
    resumedFrom: from, lastLine: from, complete: saved?.done === true,
  };
  if (report.complete) return report;

  const save = (line: number, done: boolean): void => writeCheckpoint(checkpointFile, {
    file, size: stats.size, mtimeMs: stats.mtimeMs, line, done,
    updatedAt: new Date().toISOString(),
  });
  options.onStart?.(from);
  const batchSize = options.batchSize ?? 100;
  let pending: Pending[] = [];
  let unparsable: BadLine[] = [];
  let lineNumber = 0;

  const flush = async (): Promise<void> => {
    const outcomes = await commit(tenancy, tenant, pending);
    for (const outcome of outcomes) {
      if (outcome === 'imported') report.imported += 1;
      else if (outcome === 'present') report.alreadyPresent += 1;
      else report.badLines.push(outcome);
    }
    report.badLines.push(...unparsable);
    report.lastLine = lineNumber;
    save(lineNumber, false);
    pending = [];
    unparsable = [];
    options.onProgress?.(lineNumber);
  };

  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  try {
    for await (const text of lines) {
      lineNumber += 1;
      if (lineNumber <= from) continue;
      if (text.trim() !== '') {
        try {
          pending.push({ line: lineNumber, value: JSON.parse(text) as unknown });
        } catch {
          // The parser's message quotes the text around the fault, so it is not passed on.
          unparsable.push({
            line: lineNumber, code: 'VALIDATION_FAILED', message: 'line is not valid JSON',
          });
        }
      }
      if (lineNumber - report.lastLine >= batchSize) {
        await flush();
        if (options.signal?.aborted === true) break;
      }
    }
  } finally {
    lines.close();
  }
  if (options.signal?.aborted !== true) {
    if (lineNumber > report.lastLine) await flush();
    save(report.lastLine, true);
    report.complete = true;
  }
  report.badLines.sort((a, b) => a.line - b.line);
  report.skipped = report.badLines.length;
  return report;
}

/** Adds one batch in one session; a database error there is retried line by line. */
async function commit(tenancy: Tenancy, tenant: string, batch: readonly Pending[]):
  Promise<Outcome[]> {
  if (batch.length === 0) return [];
  try {
    return await tenancy.withTenant(tenant, async ({ conversations }) => {
      const outcomes: Outcome[] = [];
      for (const entry of batch) outcomes.push(await add(conversations, entry));
      return outcomes;
    });
  } catch (err) {
    if (!isLineFault(err)) throw err;
  }
  // One bad row aborted the whole transaction; one session per line finds it and keeps the rest.
  const outcomes: Outcome[] = [];
  for (const entry of batch) {
    try {
      outcomes.push(await tenancy.withTenant(tenant, ({ conversations }) =>
        add(conversations, entry)));
    } catch (err) {
      if (!isLineFault(err)) throw err;
      outcomes.push(badLine(entry.line, err));
    }
  }
  return outcomes;
}

async function add(conversations: TenantScope['conversations'], entry: Pending):
  Promise<Outcome> {
  try {
    const added = await conversations.createIfAbsent(entry.value as ConversationInput);
    return added ? 'imported' : 'present';
  } catch (err) {
    // Validation fails before any statement runs, so the session is still usable.
    if (isTenancyError(err, 'VALIDATION_FAILED')) return badLine(entry.line, err);
    throw err;
  }
}
