// `tenancy keys …`: a tenant's encryption keys: status, rotate, reencrypt, retire, rotate-root.
import type { Command } from 'commander';
import type { KeyStatus, ReencryptProgress } from '../index.ts';
import { CliError, exitCodes } from './cli-error.ts';
import { withCommonOptions, withTenancy, type CommonOptions } from './common.ts';
import { note, report, table, when } from './output.ts';
import { progressBar, type ProgressBar } from './progress.ts';

interface RootOptions extends CommonOptions {
  region?: string;
}

/** The status as text: the keyring, one line per data key version, the last re-encryption. */
export function describeStatus(s: KeyStatus): string {
  const lines = [
    `tenant ${s.tenantId}: region ${s.region}, provider ${s.provider}, root key ${s.rootKeyId}`,
    `master key ${s.masterKeyId}; active data key version ${s.activeVersion}`,
    '',
    table([
      ['VERSION', 'KEY ID', 'STATE', 'VALUES', 'CREATED', 'RETIRED'],
      ...s.dataKeys.map((k) => [String(k.version), k.keyId, k.state,
        String(s.valuesByVersion[String(k.version)] ?? 0), when(k.createdAt), when(k.retiredAt)]),
    ]),
    '',
    `index key ${s.indexKeys.find((k) => k.state === 'active')?.keyId ?? '-'}`,
  ];
  const run = s.reencrypt;
  if (run !== null) {
    const state = run.finishedAt === null
      ? `stopped at ${run.done}/${run.total} rows (in ${run.table ?? '-'}); run keys reencrypt ` +
        'to resume'
      : `finished ${when(run.finishedAt)}, ${run.done} rows visited`;
    lines.push(`last reencrypt to version ${run.targetVersion}: ${state}, ` +
      `${run.rewritten} values rewritten`);
  }
  return lines.join('\n');
}

function describeRun(p: ReencryptProgress): string {
  const from = p.resumed ? ' (resumed from its checkpoint)' : '';
  if (!p.finished) {
    return `stopped at ${p.done}/${p.total} rows of ${p.tenantId}${from}; ` +
      'run the same command again to resume';
  }
  return `re-encrypted ${p.tenantId} to key version ${p.targetVersion}${from}: ` +
    `${p.done} rows visited, ${p.rewritten} values rewritten`;
}

function parseVersion(text: string): number {
  const version = Number(text);
  if (!Number.isInteger(version) || version < 1 || version > 2 ** 31 - 1) {
    throw new CliError('USAGE', `version must be a positive integer, not "${text.slice(0, 20)}"`,
      exitCodes.usage);
  }
  return version;
}

/** Registers `keys status|rotate|reencrypt|retire|rotate-root` under `program`. */
export function registerKeysCommand(program: Command): void {
  const keys = program.command('keys')
    .description("manage tenants' encryption keys (API keys: see api-keys)");

  withCommonOptions(keys.command('status <tenant>'))
    .description('show the keyring: versions, values sealed under each, last re-encryption')
    .action(async (tenant: string, options: CommonOptions) => {
      const status = await withTenancy(options, 'tenancy keys status',
        (tenancy) => tenancy.keys.status(tenant));
      report(status, options, describeStatus);
    });

  withCommonOptions(keys.command('rotate <tenant>'))
    .description('add a data key version and make it active for new writes')
    .action(async (tenant: string, options: CommonOptions) => {
      const status = await withTenancy(options, 'tenancy keys rotate',
        (tenancy) => tenancy.keys.rotate(tenant));
      report(status, options, (s) => `rotated ${s.tenantId}: data key version ` +
        `${s.activeVersion} is active; older versions still decrypt until re-encrypted`);
    });

  withCommonOptions(keys.command('reencrypt <tenant>'))
    .description('seal every value again under the active version (resumable, online)')
    .action(async (tenant: string, options: CommonOptions) => {
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      let last: ReencryptProgress | undefined;
      let bar: ProgressBar | undefined;
      try {
        const done = await withTenancy(options, 'tenancy keys reencrypt', (tenancy) =>
          tenancy.keys.reencrypt(tenant, {
            signal: stop.signal,
            onProgress: (progress) => {
              last = progress;
              bar ??= progressBar(process.stderr, options.json,
                { total: progress.total, label: 'reencrypt', unit: 'rows' });
              bar?.update(progress.done);
            },
          }));
        bar?.finish();
        report(done, options, describeRun);
      } catch (err) {
        if (!stop.signal.aborted || last === undefined) throw err;
        if (bar !== undefined) note('');
        report({ ...last, finished: false }, options, describeRun);
        process.exitCode = exitCodes.interrupted;
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
    });

  withCommonOptions(keys.command('retire <tenant> <version>'))
    .description('retire a data key version; refused while any value still uses it')
    .action(async (tenant: string, versionText: string, options: CommonOptions) => {
      const version = parseVersion(versionText);
      const status = await withTenancy(options, 'tenancy keys retire',
        (tenancy) => tenancy.keys.retire(tenant, version));
      report(status, options, (s) => `retired data key version ${version} of ${s.tenantId}; ` +
        'it can no longer decrypt anything');
    });

  withCommonOptions(keys.command('rotate-root'))
    .description('make a new root key current and rewrap every master key (data untouched)')
    .option('--region <region>', 'only this region (default: every region)')
    .action(async (options: RootOptions) => {
      const rotations = await withTenancy(options, 'tenancy keys rotate-root',
        (tenancy) => tenancy.keys.rotateRoot({ region: options.region }));
      report({ regions: rotations }, options, (v) => v.regions.map((r) =>
        `region ${r.region}: root key ${r.rootKeyId} is current; ` +
        `${r.rewrapped} master key(s) rewrapped`).join('\n'));
    });
}
