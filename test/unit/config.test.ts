// The config: embedded default, server config, refusals naming the field, env, hidden secrets.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig, TenancyError } from '../../src/index.ts';

const token = 'admin-token-0123456789-abcdef';
const password = 'pw-hunter2-very-secret';
const serverInput = {
  dataDir: '/var/lib/tenancy',
  regions: {
    eu: {
      database: `postgres://owner:${password}@db.eu.internal:5433/tenancy_eu`,
      runtimePassword: 'runtime-pw-also-secret',
      pool: { shared: 5, tenantDatabases: 40 },
    },
    us: { database: 'postgresql://owner@db.us.internal/tenancy_us', tenantDatabasePrefix: 't_' },
  },
  defaultRegion: 'us',
  defaultIsolation: 'schema',
  server: { host: '0.0.0.0', port: 9090 },
  adminToken: token,
} as const;

function configError(input: unknown): TenancyError {
  try {
    parseConfig(input);
  } catch (err) {
    expect(err).toBeInstanceOf(TenancyError);
    expect((err as TenancyError).code).toBe('CONFIG_INVALID');
    return err as TenancyError;
  }
  throw new Error('the config was accepted');
}

describe('config defaults', () => {
  it('embeds one region `local` under ./.tenancy with row isolation', () => {
    const config = parseConfig({});
    expect(Object.keys(config.regions)).toEqual(['local']);
    expect(config.regions.local?.database).toBe('embedded');
    expect(config.regions.local?.runtimeRole).toBe('tenancy_runtime');
    expect(config.regions.local?.tenantDatabasePrefix).toBe('tenancy_');
    expect(config.regions.local?.maxOpenDatabases).toBe(4);
    expect(config.dataDir).toBe('./.tenancy');
    expect(config.defaultIsolation).toBe('row');
    expect(config.server).toEqual({ host: '127.0.0.1', port: 8080, maxPageSize: 100 });
    expect(config.adminToken).toBeUndefined();
  });

  it('gives the same default from loadConfig with an empty environment', () => {
    const config = loadConfig({ env: {} });
    expect(Object.keys(config.regions)).toEqual(['local']);
    expect(config.regions.local?.database).toBe('embedded');
    expect(config.dataDir).toBe('./.tenancy');
  });
});

describe('server config', () => {
  it('keeps every region with its URL, pool and prefix', () => {
    const config = parseConfig(serverInput);
    const eu = config.regions.eu;
    const us = config.regions.us;
    if (eu === undefined || us === undefined || eu.database === 'embedded' ||
      us.database === 'embedded') {
      throw new Error('regions eu and us must be server regions');
    }
    expect(eu.database.reveal()).toBe(serverInput.regions.eu.database);
    expect(eu.database.database).toBe('tenancy_eu');
    expect(us.database.database).toBe('tenancy_us');
    expect(eu.pool).toEqual({
      shared: 5, tenantDatabases: 40, idleMillis: 30_000, acquireTimeoutMillis: 10_000,
    });
    expect(us.pool.shared).toBe(10);
    expect(us.tenantDatabasePrefix).toBe('t_');
    expect(eu.runtimePassword?.reveal()).toBe('runtime-pw-also-secret');
    expect(config.defaultRegion).toBe('us');
    expect(config.defaultIsolation).toBe('schema');
    expect(config.server).toEqual({ host: '0.0.0.0', port: 9090, maxPageSize: 100 });
    expect(config.adminToken?.reveal()).toBe(token);
  });
});

describe('config refusals name the field', () => {
  const cases: Array<[string, unknown, string]> = [
    ['a non-postgres URL', { regions: { eu: { database: 'mysql://db/x' } } },
      'regions.eu.database'],
    ['a port out of range', { server: { port: 70_000 } }, 'server.port'],
    ['a fractional port', { server: { port: 80.5 } }, 'server.port'],
    ['an admin token under 16 characters', { adminToken: 'short-token' }, 'adminToken'],
    ['a default region that is not configured', { defaultRegion: 'mars' }, 'defaultRegion'],
    ['a catalog region that is not configured', { catalogRegion: 'mars' }, 'catalogRegion'],
    ['an unknown top-level key', { adminTokn: token }, 'adminTokn'],
    ['an unknown region key', { regions: { eu: { database: 'embedded', pol: {} } } }, 'pol'],
    ['an uppercase region name', { regions: { EU: { database: 'embedded' } } }, 'regions.EU'],
    ['no region at all', { regions: {} }, 'regions'],
    ['an isolation that does not exist', { defaultIsolation: 'table' }, 'defaultIsolation'],
    ['a pool of zero', { regions: { eu: { database: 'embedded', pool: { shared: 0 } } } },
      'regions.eu.pool.shared'],
    ['a long database prefix',
      { regions: { eu: { database: 'embedded', tenantDatabasePrefix: 'p'.repeat(21) } } },
      'regions.eu.tenantDatabasePrefix'],
  ];

  it.each(cases)('refuses %s', (_label, input, field) => {
    expect(configError(input).message).toContain(field);
  });

  it('does not echo the refused token or the password of a refused URL', () => {
    const short = configError({ adminToken: 'tok-9f8e7d6c5' });
    expect(short.message).not.toContain('tok-9f8e7d6c5');
    const url = configError({ regions: { eu: { database: `mysql://u:${password}@db/x` } } });
    expect(url.message).not.toContain(password);
  });
});

describe('environment overrides', () => {
  let folder = '';
  let file = '';

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'tenancy-config-'));
    file = join(folder, 'tenancy.json');
    await writeFile(file, JSON.stringify({
      dataDir: '/from/file',
      server: { host: '10.0.0.1', port: 7000 },
      adminToken: 'token-from-the-file-0000',
    }));
  });

  afterAll(() => rm(folder, { recursive: true, force: true }));

  it('takes token, port, data folder and database URL from the environment', () => {
    const config = loadConfig({
      env: {
        TENANCY_ADMIN_TOKEN: token,
        TENANCY_PORT: '9443',
        TENANCY_DATA: '/srv/tenancy',
        TENANCY_DATABASE_URL: `postgres://owner:${password}@127.0.0.1:5432/app`,
      },
    });
    expect(config.adminToken?.reveal()).toBe(token);
    expect(config.server.port).toBe(9443);
    expect(config.dataDir).toBe('/srv/tenancy');
    const local = config.regions.local;
    if (local === undefined || local.database === 'embedded') throw new Error('server region');
    expect(local.database.reveal()).toBe(`postgres://owner:${password}@127.0.0.1:5432/app`);
    expect(Object.keys(config.regions)).toEqual(['local']);
  });

  it('lets the environment win over the config file, field by field', () => {
    const config = loadConfig({
      configPath: file,
      env: { TENANCY_ADMIN_TOKEN: token, TENANCY_PORT: '9443' },
    });
    expect(config.adminToken?.reveal()).toBe(token);
    expect(config.server).toEqual({ host: '10.0.0.1', port: 9443, maxPageSize: 100 });
    expect(config.dataDir).toBe('/from/file');
  });

  it('reads the config file named by TENANCY_CONFIG', () => {
    const config = loadConfig({ env: { TENANCY_CONFIG: file } });
    expect(config.dataDir).toBe('/from/file');
    expect(config.adminToken?.reveal()).toBe('token-from-the-file-0000');
  });

  it('leaves configured regions alone when TENANCY_DATABASE_URL is set', async () => {
    const withRegions = join(folder, 'regions.json');
    await writeFile(withRegions, JSON.stringify({ regions: { eu: { database: 'embedded' } } }));
    const config = loadConfig({
      configPath: withRegions,
      env: { TENANCY_DATABASE_URL: 'postgres://owner@127.0.0.1/app' },
    });
    expect(Object.keys(config.regions)).toEqual(['eu']);
    expect(config.regions.eu?.database).toBe('embedded');
  });

  it('refuses a port that is not a number, naming server.port', () => {
    let caught: unknown;
    try {
      loadConfig({ env: { TENANCY_PORT: 'http' } });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TenancyError);
    expect((caught as TenancyError).code).toBe('CONFIG_INVALID');
    expect((caught as TenancyError).message).toContain('server.port');
  });

  it('refuses a config file that is not JSON', async () => {
    const broken = join(folder, 'broken.json');
    await writeFile(broken, '{ "dataDir": ');
    expect(() => loadConfig({ configPath: broken, env: {} })).toThrow(/not valid JSON/);
  });
});

describe('secrets in a parsed config', () => {
  const secrets = [token, password, 'runtime-pw-also-secret'];

  it('never shows the admin token or a password through JSON.stringify', () => {
    const text = JSON.stringify(parseConfig(serverInput));
    for (const secret of secrets) expect(text).not.toContain(secret);
    // What stays visible is still useful: the host and database of each region.
    expect(text).toContain('db.eu.internal:5433/tenancy_eu');
  });

  it('never shows them through util.inspect, String() or template strings', () => {
    const config = parseConfig(serverInput);
    const printed = [
      inspect(config, { depth: null }),
      inspect(config, { depth: null, showHidden: true }),
      String(config.adminToken),
      `${String(config.regions.eu?.database)}`,
    ].join('\n');
    for (const secret of secrets) expect(printed).not.toContain(secret);
    expect(printed).toContain('db.eu.internal');
  });

  it('hides an environment-supplied token and database password too', () => {
    const config = loadConfig({
      env: {
        TENANCY_ADMIN_TOKEN: token,
        TENANCY_DATABASE_URL: `postgres://owner:${password}@127.0.0.1:5432/app`,
      },
    });
    const printed = JSON.stringify(config) + inspect(config, { depth: null });
    expect(printed).not.toContain(token);
    expect(printed).not.toContain(password);
  });
});
