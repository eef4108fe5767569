// `tenancy backup …`: per-tenant archives: create, list, verify, restore, clone, prune.
import { Option, type Command } from 'commander';
import type {
  BackupInfo, BackupProgress, CloneReport, PruneReport, RestoreReport, VerifyReport,
} from '../index.ts';
import { CliError, exitCodes } from './cli-error.ts';
import { withCommonOptions, withTenancy, type CommonOptions } from './common.ts';
import { report, table, when } from './output.ts';
import { progressBar, type ProgressBar } from './progress.ts';

interface CreateOptions extends CommonOptions {
  compression?: 'gzip' | 'brotli' | 'none';
  checksums?: boolean;
}

interface RestoreOptions extends CommonOptions {
  from?: string;
}

interface CloneOptions extends CommonOptions {
  to: string;
  isolation?: 'database' | 'schema' | 'row';
  name?: string;
}

interface PruneOptions extends CommonOptions {
  keep?: string;
  olderThan?: string;
}

const units: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30d`, `12h`, `90m`, `45s` as milliseconds. */
export function parseAge(text: string): number {
  const match = /^(\d{1,6})([smhd])$/.exec(text);
  if (match === null) {
    throw new CliError('USAGE', `--older-than takes a number and a unit (s, m, h, d), like 30d`,
      exitCodes.usage);
  }
  return Number(match[1]) * (units[match[2] as string] as number);
}

function parseKeep(text: string): number {
  const keep = Number(text);
  if (!Number.isInteger(keep) || keep < 0 || keep > 1_000_000) {
    throw new CliError('USAGE', '--keep takes a whole number of archives', exitCodes.usage);
  }
  return keep;
}

/** A progress bar drawn as rows go by, on a terminal only and never with --json. */
function tracker(options: CommonOptions, label: string): {
  onProgress: (p: BackupProgress) => void; finish(): void } {
  let bar: ProgressBar | undefined;
  return {
    onProgress: (p) => {
      bar ??= progressBar(process.stderr, options.json, { total: p.total, label, unit: 'rows' });
      bar?.update(p.rows);
    },
    finish: () => bar?.finish(),
  };
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function describeBackup(b: BackupInfo): string {
  return [
    `backup ${b.id} of ${b.tenantId} (${b.isolation} isolation, region ${b.region})`,
    `${b.rows} rows in ${b.tables.length} tables, ${size(b.bytes)} (${b.compression}), ` +
      `finished ${when(b.finishedAt)}`,
    `stored in ${b.location}`,
  ].join('\n');
}

function listTable(items: readonly BackupInfo[]): string {
  if (items.length === 0) return 'no backups';
  return table([
    ['ID', 'CREATED', 'ISOLATION', 'ROWS', 'SIZE'],
    ...items.map((b) => [b.id, when(b.createdAt), b.isolation, String(b.rows), size(b.bytes)]),
  ]);
}

/** Registers `backup create|list|verify|restore|clone|prune` under `program`. */
export function registerBackupCommand(program: Command): void {
  const backup = program.command('backup')
    .description("back up and restore one tenant's data (archives in its region's store)");

  withCommonOptions(backup.command('create <tenant>'))
    .description('write an archive of the tenant (with --json, prints its id among the rest)')
    .addOption(new Option('--compression <kind>', 'how chunks are compressed')
      .choices(['gzip', 'brotli', 'none']).default('brotli'))
    .option('--checksums', 'store a checksum per table, compared again at restore')
    .action(async (tenant: string, options: CreateOptions) => {
      const progress = tracker(options, 'backup');
      const info = await withTenancy(options, 'tenancy backup create', (tenancy) =>
        tenancy.backups.create(tenant, {
          compression: options.compression, digests: options.checksums === true,
          onProgress: progress.onProgress,
        }));
      progress.finish();
      report(info, options, describeBackup);
    });

  withCommonOptions(backup.command('list <tenant>'))
    .description("list the tenant's finished archives, newest first")
    .action(async (tenant: string, options: CommonOptions) => {
      const items = await withTenancy(options, 'tenancy backup list',
        (tenancy) => tenancy.backups.list(tenant));
      report({ items }, options, (v) => listTable(v.items));
    });

  withCommonOptions(backup.command('verify <tenant> <id>'))
    .description('read every chunk: check its hash, decrypt it, count its rows')
    .action(async (tenant: string, id: string, options: CommonOptions) => {
      const progress = tracker(options, 'verify');
      const done = await withTenancy(options, 'tenancy backup verify',
        (tenancy) => tenancy.backups.verify(tenant, id, { onProgress: progress.onProgress }));
      progress.finish();
      report(done, options, (v: VerifyReport) => `backup ${v.id} of ${v.tenantId} is sound: ` +
        `${v.chunks} chunks, ${v.rows} rows, ${size(v.bytes)}`);
    });

  withCommonOptions(backup.command('restore <tenant> <id>'))
    .description("replace the tenant's data with the archive's, in one step")
    .option('--from <tenant>', 'the tenant the archive was made of (refused unless the same)')
    .action(async (tenant: string, id: string, options: RestoreOptions) => {
      const progress = tracker(options, 'restore');
      const done = await withTenancy(options, 'tenancy backup restore',
        (tenancy) => tenancy.backups.restore(tenant, id,
          { from: options.from, onProgress: progress.onProgress }));
      progress.finish();
      report(done, options, (v: RestoreReport) => `restored ${v.tenantId} from backup ${v.id}: ` +
        `${v.rows} rows in ${v.durationMs} ms`);
    });

  withCommonOptions(backup.command('clone <tenant> <id>'))
    .description('make a new tenant from an archive, re-encrypted under its own keys')
    .requiredOption('--to <tenant>', 'id of the new tenant')
    .addOption(new Option('--isolation <isolation>', "its isolation (default: the archive's)")
      .choices(['database', 'schema', 'row']))
    .option('--name <name>', 'its display name')
    .action(async (tenant: string, id: string, options: CloneOptions) => {
      const progress = tracker(options, 'clone');
      const done = await withTenancy(options, 'tenancy backup clone',
        (tenancy) => tenancy.backups.clone(tenant, id, {
          to: options.to, ...(options.isolation === undefined ? {} : {
            isolation: options.isolation }),
          ...(options.name === undefined ? {} : { displayName: options.name }),
        }, { onProgress: progress.onProgress }));
      progress.finish();
      const value = { ...done, apiKey: done.apiKey.secret, keyId: done.apiKey.keyId };
      report(value, options, (v: Omit<CloneReport, 'apiKey'> & { apiKey: string;
        keyId: string }) => [
        `cloned backup ${v.id} of ${v.from} into new tenant ${v.tenantId} ` +
          `(${v.tenant.isolation} isolation): ${v.rows} rows`,
        `api key ${v.keyId}: ${v.apiKey}`,
        'the key is shown only now: store it somewhere safe',
      ].join('\n'));
    });

  withCommonOptions(backup.command('prune <tenant>'))
    .description('delete old archives: beyond the newest N, and/or older than an age')
    .option('--keep <n>', 'keep this many newest archives')
    .option('--older-than <age>', 'delete archives older than this (30d, 12h, 90m, 45s)')
    .action(async (tenant: string, options: PruneOptions) => {
      if (options.keep === undefined && options.olderThan === undefined) {
        throw new CliError('USAGE', 'name --keep <n>, --older-than <age>, or both',
          exitCodes.usage);
      }
      const keep = options.keep === undefined ? undefined : parseKeep(options.keep);
      const olderThanMillis = options.olderThan === undefined ? undefined
        : parseAge(options.olderThan);
      const done = await withTenancy(options, 'tenancy backup prune',
        (tenancy) => tenancy.backups.prune(tenant, { keep, olderThanMillis }));
      report(done, options, (v: PruneReport) => `pruned ${v.tenantId}: ` +
        `${v.deleted.length} deleted, ${v.kept.length} kept` +
        (v.unfinished.length > 0 ? `, ${v.unfinished.length} unfinished removed` : ''));
    });
}
