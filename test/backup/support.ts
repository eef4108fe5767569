// Fixtures of the backup suites: an S3-compatible server on loopback, seeded tenants, and a
// byte-for-byte picture of what a tenant holds.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import type { ConfigInput, Tenancy } from '../../src/index.ts';

export type StoreKind = 'folder' | 's3';
export const storeKinds: readonly StoreKind[] = ['folder', 's3'];

export interface S3Server {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly bucket: string;
  /** A region `backups` config pointing at this server's bucket. */
  backups(prefix?: string): NonNullable<NonNullable<ConfigInput['regions']>[string]['backups']>;
  close(): Promise<void>;
}

/** Starts s3rver on a free loopback port in a temp folder, with one empty bucket. */
export async function startS3(): Promise<S3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'tenancy-s3-'));
  const bucket = `backups-${randomBytes(4).toString('hex')}`;
  const server = new S3rver({
    address: '127.0.0.1', port: 0, silent: true, directory,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    backups: (prefix = '') => ({
      store: 's3', bucket, endpoint, awsRegion: 'us-east-1', forcePathStyle: true, prefix,
      accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', partSizeMiB: 5,
    }),
    close: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** Conversations with messages and documents (one with an external reference) for `id`. */
export async function seedTenant(tenancy: Tenancy, id: string, count = 12): Promise<void> {
  await tenancy.withTenant(id, async (t) => {
    for (let n = 0; n < count; n += 1) {
      await t.conversations.create({
        id: `c-${n}`, title: `${id} chat ${n}`, metadata: { n, tag: 'seed' },
        messages: [
          { role: 'user', content: `${id} asks ${n}: it's "quoted", back\\slash, ünïcode` },
          { role: 'assistant', content: `${id} answers ${n}` },
        ],
      });
      await t.documents.create({
        id: `d-${n}`, title: `${id} doc ${n}`, text: `${id} text ${n} `.repeat(20),
        metadata: { n }, ...(n === 0 ? { externalRef: `REF-${id}` } : {}),
      });
    }
  });
}

/**
 * Every row the tenant holds, as its text form (tenant id and envelopes included), per table
 * and sorted: equal pictures mean the same bytes.
 */
export async function picture(tenancy: Tenancy, id: string): Promise<Record<string, string[]>> {
  return tenancy.withTenant(id, async ({ session }) => {
    const out: Record<string, string[]> = {};
    for (const table of ['conversations', 'messages', 'documents', 'embedding_settings',
      'document_embeddings']) {
      const found = await session.query<{ r: string }>(
        `SELECT t::text AS r FROM ${session.table(table)} t ORDER BY 1`);
      out[table] = found.rows.map((row) => row.r);
    }
    return out;
  });
}
