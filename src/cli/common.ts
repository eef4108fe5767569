// Options every command takes (--data, --config, --json) and opening Tenancy for one command.
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { loadConfig, Tenancy, type OpenOptions, type TenancyConfig } from '../index.ts';

export interface CommonOptions {
  data?: string | undefined;
  config?: string | undefined;
  json?: boolean | undefined;
}

/** Adds --data, --config and --json to a command; the first two also come from the env. */
export function withCommonOptions(command: Command): Command {
  return command
    .addOption(new Option('--data <dir>', 'data folder (embedded databases, import checkpoints)')
      .env('TENANCY_DATA'))
    .addOption(new Option('--config <file>', 'JSON config file').env('TENANCY_CONFIG'))
    .option('--json', 'print the result as JSON');
}

/** The validated config named by the options (and env). */
export function configFrom(options: CommonOptions): TenancyConfig {
  return loadConfig({ configPath: options.config, dataDir: options.data });
}

/** The absolute data folder of an open Tenancy, as Tenancy.open resolved it. */
export function dataDirOf(tenancy: Tenancy): string {
  return resolve(tenancy.config.dataDir);
}

/**
 * Opens Tenancy for one command, runs `fn`, and closes it again even when `fn` throws.
 * `command` is written into an embedded data folder's lock, so a second process can name us.
 */
export async function withTenancy<T>(
  options: CommonOptions,
  command: string,
  fn: (tenancy: Tenancy) => Promise<T>,
  open: Omit<OpenOptions, 'command'> = {},
): Promise<T> {
  const tenancy = await Tenancy.open(configFrom(options),
    { actor: { kind: 'cli', id: operatorName() }, ...open, command });
  try {
    return await fn(tenancy);
  } finally {
    await tenancy.close();
  }
}

/** The login name of the person running the CLI, for the audit log; undefined if unknown. */
export function operatorName(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}
