// Loads the config: a JSON file (--config or TENANCY_CONFIG), then env overrides, then validation.
import { readFileSync } from 'node:fs';
import { TenancyError } from '../errors.ts';
import { configSchema, type ConfigInput, type TenancyConfig } from './schema.ts';

export interface LoadOptions {
  configPath?: string | undefined;
  dataDir?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

const parsedConfigs = new WeakSet<object>();

/** True for a config that came out of `parseConfig` or `loadConfig`. */
export function isParsedConfig(value: unknown): value is TenancyConfig {
  return typeof value === 'object' && value !== null && parsedConfigs.has(value);
}

/** Validates a config object; a wrong field fails with CONFIG_INVALID naming the field. */
export function parseConfig(input: unknown): TenancyConfig {
  const result = configSchema.safeParse(input ?? {});
  if (result.success) {
    parsedConfigs.add(result.data);
    return result.data;
  }
  const detail = result.error.issues
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
  throw new TenancyError('CONFIG_INVALID', { params: { detail } });
}

/** Reads the config file named by options or env, applies env overrides, validates. */
export function loadConfig(options: LoadOptions = {}): TenancyConfig {
  const env = options.env ?? process.env;
  const path = options.configPath ?? env.TENANCY_CONFIG;
  let input: Record<string, unknown> = {};
  if (path !== undefined && path !== '') {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new TenancyError('CONFIG_INVALID', {
        params: { detail: `cannot read config file ${path}` },
        cause: err,
      });
    }
    try {
      input = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new TenancyError('CONFIG_INVALID', {
        params: { detail: `config file ${path} is not valid JSON` },
        cause: err,
      });
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new TenancyError('CONFIG_INVALID', { params: { detail: '(root): must be an object' } });
    }
  }
  return parseConfig(applyEnv(input, env, options.dataDir));
}

function applyEnv(
  input: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  dataDir: string | undefined,
): ConfigInput {
  const out: Record<string, unknown> = { ...input };
  const data = dataDir ?? env.TENANCY_DATA;
  if (data !== undefined && data !== '') out.dataDir = data;
  if (env.TENANCY_ADMIN_TOKEN) out.adminToken = env.TENANCY_ADMIN_TOKEN;
  if (env.TENANCY_LOG_LEVEL) out.logLevel = env.TENANCY_LOG_LEVEL;
  if (env.TENANCY_HOST || env.TENANCY_PORT) {
    const server = { ...(out.server as Record<string, unknown> | undefined) };
    if (env.TENANCY_HOST) server.host = env.TENANCY_HOST;
    if (env.TENANCY_PORT) server.port = Number(env.TENANCY_PORT);
    out.server = server;
  }
  // TENANCY_DATABASE_URL points a single-region config (no file) at a Postgres server.
  if (env.TENANCY_DATABASE_URL && out.regions === undefined) {
    out.regions = { local: { database: env.TENANCY_DATABASE_URL } };
  }
  return out as ConfigInput;
}
