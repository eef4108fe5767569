// `tenancy import <tenant> <file.jsonl>`: loads conversations, resumable, with a progress bar.
import { createReadStream } from 'node:fs';
import type { Command } from 'commander';
import { exitCodes } from './cli-error.ts';
import { dataDirOf, withCommonOptions, withTenancy, type CommonOptions } from './common.ts';
import { importConversations, statImportFile, type ImportReport } from './conversation-import.ts';
import { report } from './output.ts';
import { progressBar, type ProgressBar } from './progress.ts';

interface ImportOptions extends CommonOptions {
  restart?: boolean;
}

/** Counts lines by newline bytes, for the progress bar's total; a last unterminated line counts. */
export async function countLines(file: string): Promise<number> {
  let count = 0;
  let last = 10;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    for (const byte of chunk) if (byte === 10) count += 1;
    if (chunk.length > 0) last = chunk[chunk.length - 1] as number;
  }
  return last === 10 ? count : count + 1;
}

function describe(r: ImportReport): string {
  const lines: string[] = [];
  if (r.complete && r.lastLine === r.resumedFrom && r.resumedFrom > 0) {
    lines.push(`${r.file} was already imported into ${r.tenant} (${r.lastLine} lines); ` +
      'use --restart to read it again');
    return lines.join('\n');
  }
  const start = r.resumedFrom > 0 ? ` (resumed after line ${r.resumedFrom})` : '';
  lines.push(`imported ${r.imported} conversation(s) into ${r.tenant} from ${r.file}${start}`);
  if (r.alreadyPresent > 0) lines.push(`${r.alreadyPresent} were already present`);
  if (r.skipped > 0) {
    lines.push(`skipped ${r.skipped} bad line(s):`);
    for (const bad of r.badLines) lines.push(`  line ${bad.line}: [${bad.code}] ${bad.message}`);
  }
  if (!r.complete) {
    lines.push(`stopped after line ${r.lastLine}; run the same command again to resume`);
  }
  return lines.join('\n');
}

/** Registers `import` under `program`. */
export function registerImportCommand(program: Command): void {
  withCommonOptions(program.command('import <tenant> <file>'))
    .description('import conversations from a JSON-lines file (resumes an interrupted run)')
    .option('--restart', 'ignore the checkpoint of an earlier run and start at line 1')
    .action(async (tenant: string, file: string, options: ImportOptions) => {
      statImportFile(file);
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const result = await withTenancy(options, 'tenancy import', async (tenancy) => {
          const total = process.stderr.isTTY && options.json !== true
            ? await countLines(file)
            : 0;
          let bar: ProgressBar | undefined;
          const done = await importConversations(tenancy, {
            tenant, file, dataDir: dataDirOf(tenancy), restart: options.restart,
            signal: stop.signal,
            onStart: (start) => {
              bar = progressBar(process.stderr, options.json, { total, start, label: 'import' });
            },
            onProgress: (line) => bar?.update(line),
          });
          bar?.finish();
          return done;
        });
        report(result, options, describe);
        if (!result.complete) process.exitCode = exitCodes.interrupted;
        else if (result.skipped > 0) process.exitCode = exitCodes.partial;
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
    });
}
