// Leak kit, no context: every data path reached without a tenant bound fails closed and writes
// nothing, and a connection that served a tenant session carries no tenant to its next user.
import { randomBytes } from 'node:crypto';
import { beforeAll, expect, it } from 'vitest';
import type { Isolation } from '../../../src/config/schema.ts';
import { TenantCipher } from '../../../src/crypto/tenant-cipher.ts';
import { isTenancyError, type TenantScope } from '../../../src/index.ts';
import type { Queryable } from '../../../src/storage/driver.ts';
import type { TenantStorage } from '../../../src/storage/placements/placement.ts';
import { TenantSession } from '../../../src/storage/session.ts';
import { ConversationStore } from '../../../src/stores/conversations.ts';
import { DocumentVectors } from '../../../src/stores/document-vectors.ts';
import { DocumentStore } from '../../../src/stores/documents.ts';
import { parseTenantId, type TenantId } from '../../../src/tenant-id.ts';
import type { Deployed } from '../../core/harness.ts';

const tables = ['conversations', 'messages', 'documents', 'document_embeddings',
  'embedding_settings'] as const;

/** Everything a tenant holds, read inside its own session, to prove nothing changed. */
async function holdings(scope: TenantScope): Promise<Record<string, unknown[]>> {
  const { session } = scope;
  const out: Record<string, unknown[]> = {};
  for (const table of tables) {
    const key = table === 'embedding_settings' ? 'dimension'
      : table === 'document_embeddings' ? 'document_id' : table === 'messages'
        ? "conversation_id || '/' || position" : 'id';
    out[table] = (await session.query<{ key: string }>(
      `SELECT ${key}::text AS key FROM ${session.table(table)} ORDER BY 1`)).rows.map((r) => r.key);
  }
  return out;
}

/** One connection's identity and what it holds: database, backend, start and tenant setting. */
const whoSql = `SELECT concat_ws('/', current_database(), pg_backend_pid(),
    coalesce((SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()),
      pg_postmaster_start_time())) AS connection,
  coalesce(current_setting('tenancy.tenant_id', true), '') AS tenant`;

interface Who { connection: string; tenant: string }

/** A throwaway cipher: writes must fail at the database whatever the keys. */
function throwawayCipher(tenantId: string): TenantCipher {
  return new TenantCipher({
    tenantId, keyringId: randomBytes(16), activeVersion: 1,
    dataKeys: new Map([[1, randomBytes(32)]]), indexKey: randomBytes(32),
  });
}

type Path = readonly [string, (s: { session: TenantSession; documents: DocumentStore;
  conversations: ConversationStore; vectors: DocumentVectors }) => Promise<unknown>];

// Each path as the stores and SQL would run it, had the code that binds the tenant been skipped.
const paths: readonly Path[] = [
  ['documents.create', (s) => s.documents.create({ id: 'planted', title: 't', text: 'x' })],
  ['documents.get', (s) => s.documents.get('doc-0')],
  ['documents.list', (s) => s.documents.list({ limit: 10 })],
  ['documents.findByExternalRef', (s) => s.documents.findByExternalRef('ref-0')],
  ['documents.update', (s) => s.documents.update('doc-0', { title: 'taken' })],
  ['documents.delete', (s) => s.documents.delete('doc-0')],
  ['conversations.create', (s) => s.conversations.create({ id: 'planted', title: 't',
    messages: [{ role: 'user', content: 'x' }] })],
  ['conversations.createIfAbsent', (s) => s.conversations.createIfAbsent({ id: 'planted',
    title: 't' })],
  ['conversations.get', (s) => s.conversations.get('conv-0')],
  ['conversations.list', (s) => s.conversations.list({ limit: 10 })],
  ['conversations.update', (s) => s.conversations.update('conv-0', { title: 'taken' })],
  ['conversations.delete', (s) => s.conversations.delete('conv-0')],
  ['conversations.addMessage', (s) => s.conversations.addMessage('conv-0',
    { role: 'user', content: 'x' })],
  ['vectors.settings', (s) => s.vectors.settings()],
  ['vectors.configure', (s) => s.vectors.configure({ dimension: 3 })],
  ['vectors.search', (s) => s.vectors.search({ vector: [1, 0, 0], k: 3 })],
  ['vectors.setEmbedding', (s) => s.vectors.setEmbedding('doc-0', [0, 1, 0])],
  ['vectors.deleteEmbedding', (s) => s.vectors.deleteEmbedding('doc-0')],
  ['vectors.addDocuments', (s) => s.vectors.addDocuments([{ id: 'planted', title: 't',
    text: 'x', embedding: [0, 0, 1] }])],
  ...tables.flatMap((table): Path[] => [
    [`session.query SELECT ${table}`, (s) => s.session.query(
      `SELECT * FROM ${s.session.table(table)}`)],
    [`session.query SELECT count ${table}`, (s) => s.session.query(
      `SELECT count(*) FROM ${s.session.table(table)}`)],
    [`session.query UPDATE ${table}`, (s) => s.session.query(
      `UPDATE ${s.session.table(table)} SET tenant_id = tenant_id`)],
    [`session.query DELETE ${table}`, (s) => s.session.query(
      `DELETE FROM ${s.session.table(table)}`)],
  ]),
  // Naming the tenant in the row does not stand in for the bound context.
  ['session.query INSERT with tenant_id', (s) => s.session.query(
    `INSERT INTO ${s.session.table('documents')} (tenant_id, id, title)
     VALUES ($1, 'planted', '\\x00')`, [s.session.tenantId])],
];

export interface NoContextOptions {
  isolation: Isolation;
  /** Prefix of this case's tenant ids, unique within the deployment. */
  prefix: string;
  /**
   * The deployment's pool holds one connection (per database), so the session after a tenant's
   * is known to run on the same connection.
   */
  poolOfOne: boolean;
}

/**
 * Registers the no-context cases for one isolation on a deployment. The unbound transactions
 * are opened through the tenant's own storage as the runtime role, exactly as a session would
 * be, minus `bindTenant`: what stops them is the database's policy, not the library's care.
 */
export function noContextCases(d: Deployed, options: NoContextOptions, label: string): void {
  const owner = parseTenantId(`${options.prefix}-owner`);
  const other = parseTenantId(`${options.prefix}-other`);
  let before: Record<string, unknown[]> = {};

  const storageOf = async (id: TenantId): Promise<TenantStorage> => {
    const tenant = await d.tenancy.tenants.get(id);
    return d.tenancy.regionOf(tenant).placement(tenant.isolation).locate(tenant.id);
  };
  const unbound = async <T>(id: TenantId, fn: (tx: Queryable) => Promise<T>): Promise<T> =>
    (await storageOf(id)).database.transaction('runtime', fn);

  beforeAll(async () => {
    for (const id of [owner, other]) {
      await d.tenancy.tenants.create({ id, isolation: options.isolation });
      await d.tenancy.withTenant(id, async (t) => {
        await t.documents.create({ id: 'doc-0', title: `doc of ${id}`, text: id,
          externalRef: 'ref-0' });
        await t.vectors.setEmbedding('doc-0', [1, 0, 0]);
        await t.conversations.create({ id: 'conv-0', title: `conv of ${id}`,
          messages: [{ role: 'user', content: `hello from ${id}` }] });
      });
    }
    before = await d.tenancy.withTenant(owner, holdings);
  });

  it(`${label}: ${options.isolation}: every store, vector and SQL path with no tenant bound ` +
    'fails with NO_TENANT_CONTEXT and writes nothing', async () => {
    const storage = await storageOf(owner);
    const outcomes: string[] = [];
    for (const [name, run] of paths) {
      let code = 'resolved';
      try {
        await unbound(owner, async (tx) => {
          const session = new TenantSession(owner, storage.schema, tx);
          const documents = new DocumentStore(session, throwawayCipher(owner));
          await run({
            session, documents, conversations: new ConversationStore(session,
              throwawayCipher(owner)), vectors: new DocumentVectors(session, documents),
          });
        });
      } catch (err) {
        code = isTenancyError(err) ? err.code : `raw ${String(err)}`;
      }
      outcomes.push(`${name}: ${code}`);
    }
    expect(outcomes).toEqual(paths.map(([name]) => `${name}: NO_TENANT_CONTEXT`));
    // The library's own doors refuse a missing tenant before any storage is touched.
    for (const id of [undefined, null, '', ' ']) {
      const refused = await d.tenancy.withTenant(id as unknown as string, async () => 'ran')
        .catch((err: unknown) => (isTenancyError(err) ? err.code : String(err)));
      expect(refused).toBe('TENANT_ID_INVALID');
    }
    const job = await d.tenancy.jobs.enqueue('', 'leak-kit-job')
      .catch((err: unknown) => (isTenancyError(err) ? err.code : String(err)));
    expect(job).toBe('JOB_TENANT_REQUIRED');
    expect(await d.tenancy.withTenant(owner, holdings)).toEqual(before);
    expect((await d.tenancy.withTenant(other, holdings)).documents).toEqual(['doc-0']);
  });

  it(`${label}: ${options.isolation}: after a tenant session commits, fails or is cancelled, ` +
    'its connection holds no tenant and reads nothing', async () => {
    const rawDocuments = `${(await storageOf(owner)).schema}`;
    const endings: Array<[string, (scope: TenantScope) => Promise<unknown>, AbortController?]> = [
      ['committed', (t) => t.documents.list()],
      ['failed', async (t) => {
        await t.documents.create({ title: 'rolled back', text: '' });
        throw new Error('the handler failed');
      }],
      ['sql error', (t) => t.session.query('SELECT 1/0')],
    ];
    const abort = new AbortController();
    endings.push(['cancelled', async (t) => {
      await t.documents.list();
      abort.abort();
    }, abort]);
    for (const [ending, fn, controller] of endings) {
      let used: Who | undefined;
      await d.tenancy.withTenant(owner, async (t) => {
        used = (await t.session.query<Who>(whoSql)).rows[0];
        await fn(t);
      }, controller === undefined ? {} : { signal: controller.signal }).catch(() => undefined);
      expect(used?.tenant, ending).toBe(owner);
      const after = await unbound(owner, async (tx) => (await tx.query<Who>(whoSql)).rows[0]);
      if (options.poolOfOne) {
        // The very connection the tenant used: a clean ROLLBACK or COMMIT handed it back.
        expect(after?.connection, ending).toBe(used?.connection);
      }
      expect(after?.tenant, ending).toBe('');
      const read = await unbound(owner, (tx) =>
        tx.query(`SELECT id FROM "${rawDocuments}".documents`))
        .then(() => 'read rows', (err: unknown) => (err as { code?: string }).code);
      expect(read, ending).toBe('TN001');
    }
    expect(await d.tenancy.withTenant(owner, holdings)).toEqual(before);
  });
}
