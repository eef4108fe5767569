// The shape of a Tenancy config, validated with zod; every field has one meaning and a default.
import { z } from 'zod';
import { ConnectionString, Secret } from './secret.ts';

const identifier = /^[a-z_][a-z0-9_]{0,62}$/;
const regionName = /^[a-z][a-z0-9-]{0,39}$/;

const postgresUrl = z
  .string()
  .refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'postgres:' || url.protocol === 'postgresql:';
    } catch {
      return false;
    }
  }, 'must be a postgres:// URL or "embedded"')
  .transform((value) => new ConnectionString(value));

const poolSchema = z
  .object({
    /** Connections to the region's shared database (catalog, schema and row tenants). */
    shared: z.number().int().min(1).max(1000).default(10),
    /** One ceiling for all tenant databases of `database` isolation together. */
    tenantDatabases: z.number().int().min(1).max(10000).default(20),
    idleMillis: z.number().int().min(100).default(30_000),
    acquireTimeoutMillis: z.number().int().min(10).default(10_000),
  })
  .strict();

const secret = z.string().min(1).transform((value) => new Secret(value));

/** Where a region's root key lives. The embedded default is a key file in the data folder. */
const keyProviderSchema = z.discriminatedUnion('provider', [
  z.object({
    provider: z.literal('local'),
    /** Key file (created with mode 0600 on first run); default `<dataDir>/keys/<region>.root`. */
    file: z.string().min(1).optional(),
    /** Name of an env var holding the root key (base64 of 32 bytes) instead of a file. */
    env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an env var name').optional(),
  }).strict(),
  z.object({
    provider: z.literal('pkcs11'),
    /** Path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so. */
    module: z.string().min(1),
    tokenLabel: z.string().min(1),
    pin: secret,
    /** Label of the root key object in the token; created on first use. */
    keyLabel: z.string().min(1).default('tenancy-root'),
  }).strict(),
  z.object({
    provider: z.literal('aws-kms'),
    keyId: z.string().min(1),
    awsRegion: z.string().min(1),
    /** Only for a KMS-compatible endpoint other than AWS's own. */
    endpoint: z.url().optional(),
    accessKeyId: z.string().min(1).optional(),
    secretAccessKey: secret.optional(),
  }).strict(),
  z.object({
    provider: z.literal('vault-transit'),
    address: z.url(),
    token: secret,
    mount: z.string().regex(/^[a-z0-9_-]+$/).default('transit'),
    keyName: z.string().regex(/^[A-Za-z0-9_-]+$/),
  }).strict(),
]);

export type KeyProviderConfig = z.output<typeof keyProviderSchema>;

/**
 * Where a region keeps its backup archives: a folder (the embedded default, under the data
 * folder) or an S3-compatible bucket. Keys are laid out as `tenants/<tenant>/backups/<id>/…`.
 */
const backupStoreSchema = z.discriminatedUnion('store', [
  z.object({
    store: z.literal('folder'),
    /** Default `<dataDir>/backups/<region>`. */
    path: z.string().min(1).optional(),
  }).strict(),
  z.object({
    store: z.literal('s3'),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name'),
    /** Only for an S3-compatible server other than AWS's own. */
    endpoint: z.url().optional(),
    awsRegion: z.string().min(1),
    accessKeyId: z.string().min(1).optional(),
    secretAccessKey: secret.optional(),
    /** Path-style URLs (`endpoint/bucket/key`), which most S3-compatible servers need. */
    forcePathStyle: z.boolean().default(false),
    /** Keys start with this folder, e.g. `prod/`; the tenant layout follows it. */
    prefix: z.string().regex(/^([a-z0-9][a-z0-9._-]*\/)*$/, 'must be folders ending in /')
      .max(200).default(''),
    /** Size of each part of a multipart upload, in MiB (S3 takes 5 at least). */
    partSizeMiB: z.number().int().min(5).max(512).default(8),
  }).strict(),
]);

export type BackupStoreConfig = z.output<typeof backupStoreSchema>;

const regionSchema = z
  .object({
    /** A Postgres URL of the region's shared database, or "embedded" for PGlite. */
    database: z.union([z.literal('embedded'), postgresUrl]),
    /** Where runtime (tenant) connections go, e.g. through a pooler; defaults to `database`. */
    runtimeDatabase: postgresUrl.optional(),
    /** The role tenant sessions run as: never superuser, owner or BYPASSRLS. */
    runtimeRole: z.string().regex(identifier, 'must be a lowercase SQL identifier')
      .default('tenancy_runtime'),
    runtimePassword: secret.optional(),
    /** Prefix of tenant database names in `database` isolation. */
    tenantDatabasePrefix: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,19}$/, 'must be a lowercase identifier of at most 20 characters')
      .default('tenancy_'),
    pool: poolSchema.prefault({}),
    /** Embedded only: how many tenant PGlite databases stay open at once. */
    maxOpenDatabases: z.number().int().min(1).max(64).default(4),
    /** The region's key provider: it wraps the master keys of the tenants pinned here. */
    keys: keyProviderSchema.prefault({ provider: 'local' }),
    /** The region's blob store of backup archives. */
    backups: backupStoreSchema.prefault({ store: 'folder' }),
  })
  .strict();

/** Defaults for every tenant; 0 turns a limit off. */
export const limitsSchema = z
  .object({
    /** HTTP requests per second each tenant may make (a token bucket); 0: no limit. */
    requestsPerSecond: z.number().min(0).max(1_000_000).default(0),
    /** Requests a tenant may make at once before the rate applies. */
    burst: z.number().int().min(1).max(1_000_000).default(100),
    /** Longest a statement of a tenant session may run; 0: no limit. */
    statementTimeoutMillis: z.number().int().min(0).max(3_600_000).default(30_000),
  })
  .strict();

export type LimitsConfig = z.output<typeof limitsSchema>;

const jobsSchema = z
  .object({
    /** `postgres`: a table in each region's shared database; `bullmq`: queues on Redis. */
    adapter: z.enum(['postgres', 'bullmq']).default('postgres'),
    redisUrl: secret.prefault('redis://127.0.0.1:6379'),
    /** Prefix of the Redis keys (bullmq) so several deployments can share one Redis. */
    prefix: z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/).default('tenancy'),
    /** Runs a failing job gets before it is dead-lettered. */
    maxAttempts: z.number().int().min(1).max(100).default(5),
    /** How often an idle worker looks for work in the Postgres queue. */
    pollMillis: z.number().int().min(10).max(60_000).default(500),
  })
  .strict();

export type JobsConfig = z.output<typeof jobsSchema>;

export const configSchema = z
  .object({
    /** The data folder: embedded databases, lock file, import checkpoints. */
    dataDir: z.string().min(1).default('./.tenancy'),
    regions: z
      .record(z.string().regex(regionName, 'region names are lowercase slugs'), regionSchema)
      .refine((regions) => Object.keys(regions).length > 0, 'name at least one region')
      .default({ local: regionSchema.parse({ database: 'embedded' }) }),
    /** The region whose shared database holds the catalog; defaults to the first region. */
    catalogRegion: z.string().optional(),
    defaultRegion: z.string().optional(),
    defaultIsolation: z.enum(['database', 'schema', 'row']).default('row'),
    server: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
        /** Largest page a list may return. */
        maxPageSize: z.number().int().min(1).max(1000).default(100),
      })
      .strict()
      .prefault({}),
    /** Token for /admin routes; without one the admin routes answer 401. */
    adminToken: z.string().min(16, 'must be at least 16 characters')
      .transform((value) => new Secret(value)).optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
    /** Unwrapped tenant keys kept in memory: how many tenants, and for how long. */
    keyCache: z.object({
      maxTenants: z.number().int().min(1).max(1_000_000).default(1000),
      /** Another process's key rotation is seen here within this time. */
      maxAgeSeconds: z.number().int().min(1).max(86_400).default(60),
    }).strict().prefault({}),
    /** What one tenant may use; per-tenant overrides live beside the catalog. */
    limits: limitsSchema.prefault({}),
    /** Background jobs (`tenancy.jobs`): where the queue lives. */
    jobs: jobsSchema.prefault({}),
    /** Document embeddings: the dimension and indexed metric a tenant gets on first use. */
    vectors: z.object({
      dimension: z.number().int().min(1).max(16_000).optional(),
      metric: z.enum(['cosine', 'ip', 'l2']).default('cosine'),
    }).strict().prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    const names = Object.keys(config.regions);
    for (const field of ['catalogRegion', 'defaultRegion'] as const) {
      const value = config[field];
      if (value !== undefined && !names.includes(value)) {
        ctx.addIssue({ code: 'custom', path: [field], message: `no region named "${value}"` });
      }
    }
  });

export type ConfigInput = z.input<typeof configSchema>;
export type TenancyConfig = z.output<typeof configSchema>;
export type RegionConfig = TenancyConfig['regions'][string];
export type Isolation = TenancyConfig['defaultIsolation'];
export const isolations: readonly Isolation[] = ['database', 'schema', 'row'];
